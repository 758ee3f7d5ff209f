"""The local stack (``wf dev``): an HTTP server standing in for API Gateway, an SQS
event source standing in for Lambda's, and the resources of template.yaml on moto."""
