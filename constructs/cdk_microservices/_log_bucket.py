"""The bucket a pattern's access logs go to (load balancer, CloudFront, S3 server access);
exported as ``cdk_microservices.access_log_bucket`` for an app's own buckets."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from cdk_microservices._validation import checked_arguments, fail, require_range


@checked_arguments("access_log_bucket")
def access_log_bucket(
    scope: Construct,
    id: str,
    *,
    removal_policy: RemovalPolicy,
    expiration_days: int,
    noncurrent_version_days: int,
    object_ownership: s3.ObjectOwnership = s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
) -> s3.Bucket:
    """A private, TLS-only, versioned bucket whose logs expire after ``expiration_days``.

    SSE-S3, because ALB and CloudFront log delivery cannot write to SSE-KMS buckets. With
    ``DESTROY`` it is emptied before its deletion: CloudFormation deletes only empty buckets,
    and log delivery writes into a bucket (a test object, at least) as soon as it may.
    ``expiration_days`` and ``noncurrent_version_days`` are whole numbers of days, at least 1
    (S3 lifecycle rules take a positive integer number of days).
    """
    for name, days in (
        ("expiration_days", expiration_days),
        ("noncurrent_version_days", noncurrent_version_days),
    ):
        if isinstance(days, bool) or not isinstance(days, int):
            raise fail("access_log_bucket", name, f"must be a whole number of days, got {days!r}")
        require_range("access_log_bucket", name, days, minimum=1, maximum=2_147_483_647)
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=object_ownership,
        removal_policy=removal_policy,
        auto_delete_objects=removal_policy == RemovalPolicy.DESTROY,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="expire-access-logs",
                expiration=Duration.days(expiration_days),
                noncurrent_version_expiration=Duration.days(noncurrent_version_days),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
    )
