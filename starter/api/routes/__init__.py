"""The API's routes, one module (and one router) per resource."""
