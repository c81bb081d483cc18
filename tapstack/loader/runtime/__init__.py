"""TapStack S3-to-MySQL loader: the Lambda function's code.

Self-contained: only the standard library, pymysql and boto3/botocore, and relative imports,
because it is deployed by copying this directory as a package named ``loader`` next to a copy
of pymysql (handler ``loader.handler.handler``). Python 3.11+.

Modules:
    handler       Lambda entry point and lazy wiring from the environment
    config        environment variables
    loader        the ``Loader``: events -> locked, checkpointed, batched upserts
    events        S3 event parsing; which keys load; report key names
    formats       streaming JSON Lines / JSON array readers
    schema        target table declaration, validation and SQL encoding
    database      session setup, read-only detection, named locks, manifest, batch writer
    bootstrap     schema and IAM user creation (the ``bootstrap`` action)
    connections   IAM-token + TLS connection factory
    observability JSON logs and CloudWatch EMF metrics
"""

__version__ = "1.0.0"
