"""The AWS adapters and the Lambda app: DynamoDB store, SQS queue, metrics, tracing,
settings, HTTP routes, SQS batch handling, and the wiring that builds the app."""
