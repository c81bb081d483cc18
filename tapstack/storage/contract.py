"""What the storage stacks and the operator commands agree on about replication.

No CDK here: the operator commands (:mod:`tapstack.operations.aws_provider`) import it, and
the stacks build their resources and outputs from the same values.
"""

from __future__ import annotations

from tapstack.config import TapStackConfig
from tapstack.naming import Names, Slot

__all__ = [
    "BATCH_REPORT_PREFIX",
    "BATCH_ROLE_OUTPUT",
    "batch_role_output",
    "bucket_stack",
    "replicates_back",
]

#: Where S3 Batch Replication writes its completion reports, in the source region's log
#: bucket (the job adds ``job-<id>/``); the Batch Operations role may write only there.
BATCH_REPORT_PREFIX = "batch-replication"

#: The output holding the Batch Operations role's ARN, after the slot's prefix.
BATCH_ROLE_OUTPUT = "BatchReplicationRoleArn"

#: The stack that owns each slot's data bucket (by kind: ``<prefix>-<kind>``).
_BUCKET_STACKS = {Slot.PRIMARY: "primary", Slot.SECONDARY: "secondary-storage"}


def bucket_stack(names: Names) -> str:
    """The stack that owns the region's data bucket, its replication rule and its Batch
    Operations role: ``<prefix>-primary`` or ``<prefix>-secondary-storage``."""
    return names.stack_name(_BUCKET_STACKS[names.slot])


def batch_role_output(names: Names) -> str:
    """The output of :func:`bucket_stack` holding the ARN of the role S3 Batch Operations
    assumes to replicate the bucket's objects (``PrimaryBatchReplicationRoleArn`` or
    ``SecondaryBatchReplicationRoleArn``)."""
    return f"{names.slot.value.capitalize()}{BATCH_ROLE_OUTPUT}"


def replicates_back(config: TapStackConfig) -> bool:
    """Whether the secondary region's data bucket replicates to the primary region's.

    From the first move of the writer on (the writer in the secondary region, or any database
    rebuilt: a generation above 0), and for good, so that replication runs both ways:

    - The rule cannot exist earlier. S3 refuses a replication configuration whose
      destination bucket does not exist or is not versioned (PutBucketReplication:
      "InvalidRequest: Destination bucket must have versioning enabled"), and on a new
      environment the secondary-storage stack deploys before the primary bucket exists.
      A writer move happens only in an environment whose buckets both exist (a configuration
      that moved the writer cannot create a database from nothing either).
    - Two rules do not loop: S3 does not replicate objects that are replicas created by
      another replication rule ("What does Amazon S3 replicate?", S3 User Guide), so each
      object is copied once, from the bucket it was written to. AWS documents this shape as
      two-way (bidirectional) replication.
    - Once there, the rule stays when the writer moves back: removing it while objects are
      still pending replication would strand them, and a rule on a bucket nobody writes to
      copies nothing.
    """
    return (
        config.writer != config.primary.region
        or config.primary.database_generation > 0
        or config.secondary.database_generation > 0
    )
