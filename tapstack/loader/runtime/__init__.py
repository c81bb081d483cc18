"""TapStack S3-to-MySQL loader: the Lambda function's code.

Self-contained: only the standard library, pymysql, Powertools for AWS Lambda (Python) and
boto3/botocore, and relative imports, because it is deployed by copying this directory as a
package named ``loader`` next to copies of pymysql, aws_lambda_powertools and
typing_extensions (handler ``loader.handler.handler``; boto3 and jmespath come with the Lambda
runtime). Python 3.11+.

Modules:
    handler       Lambda entry point and lazy wiring from the environment
    contract      what the runtime and the infrastructure agree on (prefixes, names, units)
    config        typed model of the environment variables
    loader        the ``Loader``: events -> locked, checkpointed, batched upserts
    events        S3 event parsing; which keys load; report key names
    formats       streaming JSON Lines / JSON array readers
    schema        target table declaration, validation and SQL encoding
    database      session setup, read-only detection, named locks, manifest, batch writer
    bootstrap     schema and IAM user creation (the ``bootstrap`` action)
    connections   IAM-token + TLS connection factory
    observability Powertools Logger and EMF metrics, set up for the loader
"""

__version__ = "1.0.0"
