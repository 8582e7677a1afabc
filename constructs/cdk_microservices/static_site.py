"""StaticSite: a single-page web app in a private S3 bucket, served by CloudFront.

Creates (the site bucket unless an existing one is passed in):

- ``bucket``: the private site bucket: all public access blocked, TLS-only policy, SSE-S3
  encryption, versioned (old versions expire after ``NONCURRENT_VERSION_DAYS``), server
  access logs to ``log_bucket``; readable only by this distribution through origin
  access control;
- ``log_bucket``: the bucket for the distribution's standard (legacy) access logs and the
  site bucket's server access logs: ACLs enabled (CloudFront's legacy logging writes
  through an ACL grant), SSE-S3, TLS-only, no public access, logs expire after
  ``log_retention_days``;
- ``distribution``: a CloudFront distribution with the site bucket as its S3 origin
  (origin access control), ``index.html`` as default root object, HTTPS (HTTP/2 and
  HTTP/3), TLS 1.2 (2021 policy) with a custom domain, access logs to ``log_bucket``;
- ``spa_function``: a CloudFront function (cloudfront-js-2.0) on the default behaviour's
  viewer requests that serves ``/index.html`` for every path whose last segment has no
  file extension (``/auth/callback``, ``/accounts/42``), so the app's client-side routes
  load; ``None`` with ``spa_fallback=False``;
- ``response_headers_policy``: the security headers of every response, of every
  behaviour: HSTS, a strict Content-Security-Policy, ``nosniff``, ``DENY`` framing and a
  strict referrer policy;
- ``alarms``: the distribution's 5xx and 4xx error rates, when the stack is in us-east-1
  (where CloudFront publishes its metrics).

``add_api(path_pattern, origin)`` routes a path (``/api/*``) to an API origin, uncached;
``deploy(id, sources)`` uploads the site's files and invalidates the distribution's cache.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Generic, TypeVar, cast, overload

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from cdk_microservices._alarms import describe, notify, resolve_thresholds
from cdk_microservices._function_logs import S3_AUTO_DELETE_PROVIDER, shared_provider_log_group
from cdk_microservices._log_bucket import access_log_bucket
from cdk_microservices._validation import (
    checked_arguments,
    fail,
    merge_props,
    reject_conflicts,
    require_choice,
    require_pattern,
    require_range,
)
from cdk_microservices.compliance import acknowledge, nag_finding

BucketT = TypeVar("BucketT", bound=s3.IBucket, covariant=True)
"""``s3.Bucket`` when the construct creates the site bucket, ``s3.IBucket`` for an
``existing_bucket``: the type checker knows which from the arguments."""

NONCURRENT_VERSION_DAYS = 30
"""Days an overwritten or deleted file of the site bucket is kept as an old version (a
deploy that went wrong can be rolled back by hand within them)."""
LOG_NONCURRENT_VERSION_DAYS = 7
"""Days an expired log object is kept as an old version in the log bucket."""
HSTS_MAX_AGE = Duration.days(730)
"""Strict-Transport-Security max-age: two years, as the HSTS preload list asks for."""
CLOUDFRONT_LOG_PREFIX = "cloudfront/"
"""Prefix of the distribution's access logs in ``log_bucket``."""
BUCKET_LOG_PREFIX = "s3-access/"
"""Prefix of the site bucket's server access logs in ``log_bucket``."""

SPA_FALLBACK_CODE = """\
function handler(event) {
    // Single-page app fallback: a path whose last segment has no file extension is a
    // client-side route (/auth/callback, /accounts/42): serve the app's index.html.
    // Files (/app.js, /img/logo.svg) pass through; the query string is left as it is.
    var request = event.request;
    var uri = request.uri;
    var last = uri.substring(uri.lastIndexOf('/') + 1);
    if (last.indexOf('.') === -1) {
        request.uri = '/index.html';
    }
    return request;
}
"""
"""The viewer-request function of the default behaviour (cloudfront-js-2.0)."""

_REMOVAL_POLICIES = (
    RemovalPolicy.RETAIN,
    RemovalPolicy.DESTROY,
    RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
)
# CloudFront's path pattern characters (wildcards * and ?), at most 255 of them.
_PATH_PATTERN = r"/[A-Za-z0-9_\-.*$/~\"'@:+&?]{0,254}"
_DEFAULT_PATTERNS = ("*", "/*")
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# An https origin for a CSP source: scheme, host name, optional port, nothing else.
_ORIGIN = rf"https://{_LABEL}(\.{_LABEL})*(:[0-9]{{1,5}})?"
_DOMAIN_NAME = rf"(\*\.)?({_LABEL}\.)+[A-Za-z]{{2,63}}"
_CLOUDFRONT_WEB_ACL_ARN = (
    r"arn:aws:wafv2:us-east-1:[0-9]{12}:global/webacl/[A-Za-z0-9_-]{1,128}/[A-Za-z0-9-]{1,128}"
)
# CloudFront's limit on the Content-Security-Policy value of a response headers policy.
_CSP_MAX_LENGTH = 1783
# Distribution settings that an argument of this construct owns (and validates).
_DISTRIBUTION_KEYS_OWNED = {
    "certificate": "certificate",
    "domain_names": "domain_names",
    "web_acl_id": "web_acl_arn",
    "log_bucket": "the construct's log_bucket",
    "enable_logging": "the construct's log_bucket",
    "price_class": "price_class",
}


class StaticSite(Construct, Generic[BucketT]):
    """A single-page web app on S3 and CloudFront, with security headers and access logs.

    Defaults (each can be changed by its argument):

    - site bucket: private (all public access blocked; only this distribution reads it,
      through origin access control), TLS-only, SSE-S3 encrypted, versioned (old versions
      expire after 30 days), server access logs to ``log_bucket``. SSE-S3 rather than
      SSE-KMS: an origin access control can read SSE-KMS objects only if the key policy
      lets CloudFront decrypt; with a KMS key in ``bucket_props``, aws-cdk-lib adds a key
      policy statement for every distribution of the account (a wildcard that avoids a
      circular dependency, to be narrowed to this distribution after the first deploy),
      and an imported key's policy must be changed by hand;
    - ``removal_policy``: ``RETAIN`` for both buckets; ``DESTROY`` deletes them with the
      stack and empties them first (CloudFormation deletes only empty buckets; the
      distribution is deleted and the site bucket emptied before the log bucket is
      emptied, but CloudFront and S3 deliver logs on a best-effort basis, sometimes long
      after the request: a log that arrives after the emptying leaves the log bucket to
      be deleted by hand). The emptying runs in aws-cdk-lib's S3 auto-delete function
      (one per stack), which logs to a log group of its own kept ``log_retention`` (one
      month) and deleted with the stack; the first construct in the stack that needs the
      function sets that group, a later one with other settings gets a warning;
    - ``log_retention``: how long the CloudWatch log groups of the functions the site runs
      keep their events (the auto-delete function above, and ``deploy``'s unless told
      otherwise); ``INFINITE`` is rejected. Not the access logs: see
      ``log_retention_days``;
    - distribution: default root object ``index.html``, viewers redirected to HTTPS,
      HTTP/2 and HTTP/3, IPv6, ``price_class`` ``PRICE_CLASS_100`` (North America and
      Europe edges), cached with the managed ``CachingOptimized`` policy;
    - TLS: with ``domain_names`` and an ACM ``certificate`` (which CloudFront requires in
      us-east-1), SNI and the ``TLSv1.2_2021`` security policy; without them the site is
      served on its ``*.cloudfront.net`` name, whose certificate CloudFront does not let
      a distribution set a minimum TLS version for (cdk-nag's AwsSolutions-CFR4 is
      acknowledged in that case only);
    - single-page app fallback (``spa_fallback``): a CloudFront function on the default
      behaviour only, never on ``add_api`` behaviours. Distribution-wide error responses
      (403/404 -> index.html) are not used: they would also turn an API's 403 or 404 into
      the app's HTML;
    - response headers, on every behaviour, overriding the origin's:
      ``Strict-Transport-Security: max-age=63072000; includeSubDomains; preload``,
      ``Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self';
      img-src 'self' data:; connect-src 'self' <connect_sources>; form-action 'self'
      <connect_sources>; frame-ancestors 'none'; base-uri 'self'; object-src 'none'``,
      ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
      ``Referrer-Policy: strict-origin-when-cross-origin``. ``connect_sources`` are the
      other ``https://host`` origins the app calls or posts forms to (e.g. the Cognito
      domain, for the token endpoint);
    - access logs: CloudFront standard (legacy) logging to ``log_bucket`` under
      ``cloudfront/``, the site bucket's server access logs under ``s3-access/``; they
      expire after ``log_retention_days`` (90). The log bucket has ACLs enabled (object
      ownership ``BUCKET_OWNER_PREFERRED``): CloudFront's legacy logging refuses a bucket
      whose object ownership is ``BUCKET_OWNER_ENFORCED``. Deploying needs permission to
      change the log bucket's ACL (CloudFront adds its log delivery grant);
    - WAF: the web ACL ``web_acl_arn`` (scope ``CLOUDFRONT``, so in us-east-1; see
      ``CloudFrontWebAcl``) is associated when given; without it cdk-nag's
      AwsSolutions-CFR2 stays open for the stack to decide;
    - no geo restriction: the site is served in every country (cdk-nag's
      AwsSolutions-CFR1 is acknowledged); restrict it with
      ``distribution_props={"geo_restriction": cloudfront.GeoRestriction.allowlist(...)}``;
    - alarms (``alarms=False`` turns them off), sent (ALARM and OK) to ``alarm_topic`` if
      given, missing data (no requests) not breaching; thresholds changed by name with
      ``alarm_thresholds`` (percent, at most 100; defaults in ``ALARM_THRESHOLDS``):
      ``"ServerErrorRate"``, the average ``5xxErrorRate`` of viewer requests at 5 % or
      more in each of 5 consecutive minutes; ``"ClientErrorRate"``, the average
      ``4xxErrorRate`` at 25 % or more in each of 3 consecutive 5-minute periods (missing
      files after a deploy answer 403: the bucket is private). CloudFront publishes its
      metrics only in us-east-1 (dimension ``Region=Global``), and an alarm watches
      metrics of its own region: the alarms are created only when the stack's region is
      ``us-east-1``. In a stack of another region, or one without a region
      (environment-agnostic), none is created and a warning says so: deploy the site's
      stack in us-east-1, or alarm on ``metric_error_rate()`` in a us-east-1 stack of
      your own.

    Escape hatches: ``existing_bucket`` serves a bucket created elsewhere (its policy must
    then let this distribution's origin access control read it: CDK cannot change an
    imported bucket's policy; ``bucket_props`` is rejected with it), ``bucket_props``
    overrides keyword arguments of ``aws_s3.Bucket`` and ``distribution_props`` those of
    ``aws_cloudfront.Distribution`` (except the ones an argument owns: ``certificate``,
    ``domain_names``, ``web_acl_id``, ``price_class`` and the logging settings).
    """

    CONSTRUCT = "StaticSite"
    ALARM_THRESHOLDS: Mapping[str, float] = {"ServerErrorRate": 5, "ClientErrorRate": 25}
    """Each alarm's name and default threshold, in percent (see the class docstring)."""
    METRICS_REGION = "us-east-1"
    """The only region where CloudFront publishes metrics, and so where they can alarm."""

    alarms: list[cloudwatch.Alarm]
    """The alarms created (empty with ``alarms=False`` or outside us-east-1)."""

    bucket: BucketT
    """The site bucket: an ``s3.Bucket`` created here, or the ``existing_bucket``."""

    @overload
    def __init__(
        self: StaticSite[s3.Bucket],
        scope: Construct,
        id: str,
        *,
        spa_fallback: bool = True,
        connect_sources: Sequence[str] = (),
        domain_names: Sequence[str] = (),
        certificate: acm.ICertificate | None = None,
        web_acl_arn: str | None = None,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention_days: int = 90,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_bucket: None = None,
        bucket_props: Mapping[str, object] | None = None,
        distribution_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: StaticSite[s3.IBucket],
        scope: Construct,
        id: str,
        *,
        spa_fallback: bool = True,
        connect_sources: Sequence[str] = (),
        domain_names: Sequence[str] = (),
        certificate: acm.ICertificate | None = None,
        web_acl_arn: str | None = None,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention_days: int = 90,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_bucket: s3.IBucket,
        distribution_props: Mapping[str, object] | None = None,
    ) -> None: ...

    @checked_arguments("StaticSite")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        spa_fallback: bool = True,
        connect_sources: Sequence[str] = (),
        domain_names: Sequence[str] = (),
        certificate: acm.ICertificate | None = None,
        web_acl_arn: str | None = None,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        log_retention_days: int = 90,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
        alarms: bool = True,
        alarm_topic: sns.ITopic | None = None,
        alarm_thresholds: Mapping[str, float] | None = None,
        existing_bucket: s3.IBucket | None = None,
        bucket_props: Mapping[str, object] | None = None,
        distribution_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        # The site bucket's server access logs reach the log bucket through its bucket
        # policy (the S3 logging service, for the site bucket only), never through the ACL
        # that holds CloudFront's log delivery grant. aws-cdk-lib chooses by this feature
        # flag; set here, before any child exists, it holds whatever the app's flags say.
        self.node.set_context("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", True)

        if existing_bucket is not None:
            reject_conflicts(name, "existing_bucket", {"bucket_props": bucket_props})
            if not hasattr(existing_bucket, "bucket_arn"):
                raise fail(
                    name,
                    "existing_bucket",
                    f"must be an aws_s3.IBucket, got {type(existing_bucket).__name__}",
                )
        if not isinstance(spa_fallback, bool):
            raise fail(name, "spa_fallback", f"must be True or False, got {spa_fallback!r}")
        if not isinstance(alarms, bool):
            raise fail(name, "alarms", f"must be True or False, got {alarms!r}")
        if not alarms:
            reject_conflicts(
                name, "alarms", {"alarm_topic": alarm_topic, "alarm_thresholds": alarm_thresholds}
            )
        thresholds = resolve_thresholds(
            name,
            self.ALARM_THRESHOLDS,
            alarm_thresholds,
            maximums=dict.fromkeys(self.ALARM_THRESHOLDS, 100),
        )
        if removal_policy not in _REMOVAL_POLICIES:
            raise fail(
                name,
                "removal_policy",
                f"is {removal_policy!r}; allowed values are RemovalPolicy.RETAIN, "
                "RemovalPolicy.DESTROY and RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE (S3 "
                "buckets have no snapshots)",
            )
        if isinstance(log_retention_days, bool) or not isinstance(log_retention_days, int):
            raise fail(
                name,
                "log_retention_days",
                f"must be a whole number of days, got {type(log_retention_days).__name__}",
            )
        require_range(name, "log_retention_days", log_retention_days, minimum=1, maximum=3650)
        _check_log_retention(name, log_retention)
        if not isinstance(price_class, cloudfront.PriceClass):
            raise fail(
                name,
                "price_class",
                "must be an aws_cloudfront.PriceClass (PRICE_CLASS_100, PRICE_CLASS_200 or "
                f"PRICE_CLASS_ALL), got {price_class!r}",
            )
        self.connect_sources: tuple[str, ...] = _checked_connect_sources(name, connect_sources)
        self.domain_names: tuple[str, ...] = _checked_domain_names(name, domain_names)
        self._check_certificate(certificate)
        if web_acl_arn is not None:
            _check_web_acl_arn(name, web_acl_arn)
        for key, owner in _DISTRIBUTION_KEYS_OWNED.items():
            if distribution_props and key in distribution_props:
                raise fail(
                    name,
                    "distribution_props",
                    f"sets {key!r}, which {owner!r} sets (and checks); pass it there",
                )

        self.removal_policy = removal_policy
        self.log_retention = log_retention
        destroy = removal_policy == RemovalPolicy.DESTROY
        self.log_bucket = access_log_bucket(
            self,
            "Logs",
            removal_policy=removal_policy,
            expiration_days=log_retention_days,
            noncurrent_version_days=LOG_NONCURRENT_VERSION_DAYS,
            # CloudFront's standard (legacy) logging writes through an ACL grant it adds
            # to the bucket: ACLs must be enabled (not BUCKET_OWNER_ENFORCED).
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
        )
        acknowledge(
            self.log_bucket,
            "AwsSolutions::AwsSolutions-S1",
            "This bucket only receives access logs (the distribution's and the site "
            "bucket's); server access logs for it would need yet another log bucket, which "
            "would need one in turn.",
        )

        if existing_bucket is not None:
            self.bucket = cast(BucketT, existing_bucket)
        else:
            bucket_defaults: dict[str, object] = {
                "encryption": s3.BucketEncryption.S3_MANAGED,
                "enforce_ssl": True,
                "versioned": True,
                "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
                "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
                "removal_policy": removal_policy,
                "auto_delete_objects": destroy,
                "server_access_logs_bucket": self.log_bucket,
                "server_access_logs_prefix": BUCKET_LOG_PREFIX,
                "lifecycle_rules": [
                    s3.LifecycleRule(
                        id="expire-old-versions",
                        noncurrent_version_expiration=Duration.days(NONCURRENT_VERSION_DAYS),
                        abort_incomplete_multipart_upload_after=Duration.days(1),
                    )
                ],
            }
            merged_bucket = merge_props(
                name, "bucket_props", s3.Bucket, bucket_defaults, bucket_props, scope=self
            )
            if merged_bucket.get("public_read_access"):
                raise fail(
                    name,
                    "bucket_props",
                    "sets public_read_access; the site bucket is read by CloudFront only, "
                    "through origin access control",
                )
            if merged_bucket.get("website_index_document") or merged_bucket.get(
                "website_error_document"
            ):
                raise fail(
                    name,
                    "bucket_props",
                    "configures S3 website hosting; the distribution reads the bucket through "
                    "its REST endpoint with origin access control, and the index document and "
                    "client-side routes are handled by default_root_object and spa_fallback",
                )
            self.bucket = cast(BucketT, s3.Bucket(self, "Bucket", **merged_bucket))  # type: ignore[arg-type]

        self.response_headers_policy = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            comment=f"Security headers of {self.node.path}"[:128],
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE,
                    include_subdomains=True,
                    preload=True,
                    override=True,
                ),
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=self.content_security_policy,
                    override=True,
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
            ),
        )

        self.spa_function: cloudfront.Function | None = None
        function_associations: list[cloudfront.FunctionAssociation] = []
        if spa_fallback:
            self.spa_function = cloudfront.Function(
                self,
                "SpaFallback",
                code=cloudfront.FunctionCode.from_inline(SPA_FALLBACK_CODE),
                runtime=cloudfront.FunctionRuntime.JS_2_0,
                comment="Serves /index.html for client-side routes (paths without extension)",
            )
            function_associations.append(
                cloudfront.FunctionAssociation(
                    function=self.spa_function,
                    event_type=cloudfront.FunctionEventType.VIEWER_REQUEST,
                )
            )

        distribution_defaults: dict[str, object] = {
            "default_behavior": cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self.response_headers_policy,
                function_associations=function_associations or None,
                compress=True,
            ),
            "default_root_object": "index.html",
            "http_version": cloudfront.HttpVersion.HTTP2_AND_3,
            "enable_ipv6": True,
            "price_class": price_class,
            "log_bucket": self.log_bucket,
            "log_file_prefix": CLOUDFRONT_LOG_PREFIX,
            "log_includes_cookies": False,
            "comment": f"{self.node.path}"[-128:],
        }
        if self.domain_names:
            distribution_defaults["domain_names"] = list(self.domain_names)
            distribution_defaults["certificate"] = certificate
            distribution_defaults["minimum_protocol_version"] = (
                cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021
            )
            distribution_defaults["ssl_support_method"] = cloudfront.SSLMethod.SNI
        if web_acl_arn is not None:
            distribution_defaults["web_acl_id"] = web_acl_arn
        merged_distribution = merge_props(
            name,
            "distribution_props",
            cloudfront.Distribution,
            distribution_defaults,
            distribution_props,
            scope=self,
        )
        if not isinstance(merged_distribution.get("default_behavior"), cloudfront.BehaviorOptions):
            raise fail(
                name,
                "distribution_props",
                "sets default_behavior to something other than an aws_cloudfront."
                "BehaviorOptions; the site's origin, headers and SPA fallback come from it",
            )
        if merged_distribution.get("error_responses"):
            Annotations.of(self).add_warning_v2(
                "cdk-microservices:distribution_props:error_responses",
                f"{name}: error responses apply to every behaviour of the distribution, "
                "add_api's included: an API's 403 or 404 would be answered with the error "
                "page. Client-side routes are served by spa_fallback.",
            )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            **merged_distribution,  # type: ignore[arg-type]
        )
        if not self.domain_names:
            acknowledge(
                self.distribution,
                "AwsSolutions::AwsSolutions-CFR4",
                "Served on its *.cloudfront.net name with CloudFront's default certificate, "
                "for which CloudFront does not let a distribution set a minimum TLS version; "
                "with domain_names and a certificate the TLSv1.2_2021 policy applies.",
            )
        if merged_distribution.get("geo_restriction") is None:
            acknowledge(
                self.distribution,
                "AwsSolutions::AwsSolutions-CFR1",
                "No geo restriction was asked for: the web app is served to its users in "
                "every country; distribution_props={'geo_restriction': ...} restricts it.",
            )
        if destroy:
            emptier = self.log_bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
            if emptier is not None:
                # On deletion the log sources go first: the distribution is deleted and the
                # site bucket emptied (which S3 logs) before the log bucket is emptied.
                self.distribution.node.add_dependency(emptier)
                site_emptier = self.bucket.node.try_find_child("AutoDeleteObjectsCustomResource")
                if site_emptier is not None:
                    site_emptier.node.add_dependency(emptier)
        if any(
            bucket.node.try_find_child("AutoDeleteObjectsCustomResource") is not None
            for bucket in (self.log_bucket, self.bucket)
        ):
            # aws-cdk-lib's emptying function, one per stack, logs to a group of its own.
            shared_provider_log_group(
                self,
                S3_AUTO_DELETE_PROVIDER,
                retention=log_retention,
                removal_policy=removal_policy,
                construct=name,
            )
        self._api_patterns: list[str] = []
        self.alarms = []
        if alarms:
            self._add_alarms(thresholds, alarm_topic)

    def _add_alarms(self, thresholds: Mapping[str, float], alarm_topic: sns.ITopic | None) -> None:
        region = Stack.of(self).region
        if Token.is_unresolved(region) or region != self.METRICS_REGION:
            where = "has no region" if Token.is_unresolved(region) else f"is in {region}"
            Annotations.of(self).add_warning_v2(
                "cdk-microservices:StaticSite:alarms-region",
                f"{self.CONSTRUCT}: no alarms were created: the stack {where}, and CloudFront "
                f"publishes its metrics only in {self.METRICS_REGION}. Deploy the site's stack "
                f"in {self.METRICS_REGION} (env=Environment(region='{self.METRICS_REGION}')), "
                "or alarm on site.metric_error_rate() in a us-east-1 stack; "
                "alarms=False silences this warning",
            )
            return
        service = self.node.path
        server = thresholds["ServerErrorRate"]
        client = thresholds["ClientErrorRate"]
        at_least = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
        self.alarms = [
            self.metric_error_rate("5xx", Duration.minutes(1)).create_alarm(
                self,
                "ServerErrorRateAlarm",
                alarm_description=describe(
                    service,
                    f"{server:g} % or more of the viewer requests answered 5xx in each of 5 "
                    "minutes",
                    "see which behaviour fails in the distribution's access logs (column "
                    "sc-status, cs-uri-stem): under /api/ look at that service's ServerErrors "
                    "alarm; for the site itself check the bucket and its origin access control",
                ),
                threshold=server,
                evaluation_periods=5,
                datapoints_to_alarm=5,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
            self.metric_error_rate("4xx", Duration.minutes(5)).create_alarm(
                self,
                "ClientErrorRateAlarm",
                alarm_description=describe(
                    service,
                    f"{client:g} % or more of the viewer requests answered 4xx in each of 3 "
                    "five-minute periods",
                    "find the most requested failing paths in the distribution's access logs: "
                    "403 on the site's files after a deploy means missing objects (redeploy the "
                    "site); many paths from few addresses is a scan (the web ACL's rules)",
                ),
                threshold=client,
                evaluation_periods=3,
                datapoints_to_alarm=3,
                comparison_operator=at_least,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            ),
        ]
        notify(self.alarms, alarm_topic)

    def metric_error_rate(
        self, status: str = "5xx", period: Duration | None = None
    ) -> cloudwatch.Metric:
        """The distribution's ``<status>ErrorRate`` (``"5xx"``, ``"4xx"`` or ``"Total"``:
        percent of viewer requests, average), with both dimensions CloudFront publishes,
        ``DistributionId`` and ``Region=Global`` (aws-cdk-lib's ``metric5xx_error_rate``
        leaves ``Region`` out, so its metric never has data: aws/aws-cdk#19245). Only in
        us-east-1; an alarm on it must be in us-east-1 too."""
        require_choice(self.CONSTRUCT, "status", status, ("5xx", "4xx", "Total"))
        return cloudwatch.Metric(
            namespace="AWS/CloudFront",
            metric_name=f"{status}ErrorRate",
            dimensions_map={
                "DistributionId": self.distribution.distribution_id,
                "Region": "Global",
            },
            statistic="Average",
            period=period or Duration.minutes(5),
        )

    # -- validation ---------------------------------------------------------------------

    def _check_certificate(self, certificate: acm.ICertificate | None) -> None:
        name = self.CONSTRUCT
        if certificate is None:
            if self.domain_names:
                raise fail(
                    name,
                    "certificate",
                    "is missing; domain_names need an ACM certificate for them, in us-east-1 "
                    "(CloudFront certificates must be in us-east-1)",
                )
            return
        if not hasattr(certificate, "certificate_arn"):
            raise fail(
                name,
                "certificate",
                "must be an aws_certificatemanager.ICertificate (e.g. Certificate."
                f"from_certificate_arn(...)), got {type(certificate).__name__}",
            )
        if not self.domain_names:
            raise fail(
                name,
                "certificate",
                "was given without domain_names; pass the names the certificate covers as "
                "domain_names (the *.cloudfront.net name uses CloudFront's own certificate)",
            )
        # An imported certificate's region is in its ARN; a created one's is its stack's.
        arn = certificate.certificate_arn
        arn_parts = arn.split(":") if not Token.is_unresolved(arn) else []
        region = arn_parts[3] if len(arn_parts) > 3 else Stack.of(certificate).region
        if not Token.is_unresolved(region) and region != "us-east-1":
            raise fail(
                name,
                "certificate",
                f"is in {region}; CloudFront certificates must be in us-east-1: request or "
                "import it there (a us-east-1 stack, with cross_region_references=True on "
                "this one, or its ARN)",
            )

    # -- public API ---------------------------------------------------------------------

    @property
    def content_security_policy(self) -> str:
        """The Content-Security-Policy every response carries."""
        extra = "".join(f" {source}" for source in self.connect_sources)
        policy = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            f"connect-src 'self'{extra}; form-action 'self'{extra}; frame-ancestors 'none'; "
            "base-uri 'self'; object-src 'none'"
        )
        if not Token.is_unresolved(policy) and len(policy) > _CSP_MAX_LENGTH:
            raise fail(
                self.CONSTRUCT,
                "connect_sources",
                f"make the Content-Security-Policy {len(policy)} characters long; CloudFront "
                f"allows {_CSP_MAX_LENGTH}",
            )
        return policy

    @property
    def domain_name(self) -> str:
        """The site's host name: the first of ``domain_names`` that is not a wildcard,
        else the distribution's ``*.cloudfront.net`` name."""
        for domain in self.domain_names:
            if not domain.startswith("*."):
                return domain
        return self.distribution.distribution_domain_name

    @property
    def url(self) -> str:
        """``https://<domain_name>``: the site's address (e.g. for Cognito callback URLs)."""
        return f"https://{self.domain_name}"

    def add_api(
        self,
        path_pattern: str,
        origin: cloudfront.IOrigin,
        *,
        forward_host_header: bool = False,
    ) -> None:
        """Route requests matching ``path_pattern`` (``"/api/*"``) to an API ``origin``.

        The behaviour: every HTTP method allowed, viewers on HTTPS only (a request over
        plain HTTP is refused, not redirected after its token crossed the network),
        nothing cached (managed ``CachingDisabled`` policy), the site's security headers,
        and no single-page app fallback, so the API's own status codes reach the caller.

        Every viewer header, cookie and query string reaches the origin except ``Host``
        (managed ``AllViewerExceptHostHeader`` origin request policy): API Gateway and
        Lambda function URLs answer 403 to a Host that is not their own. The
        ``Authorization`` header is forwarded too: CloudFront refuses it in an origin
        request policy that lists headers, but when caching is disabled the AllViewer and
        AllViewerExceptHostHeader policies forward it (AWS Knowledge Center, "How can I
        configure CloudFront to forward the Authorization header to the origin?").
        ``forward_host_header=True`` uses ``AllViewer`` instead, for an origin that routes
        by the viewer's host name.
        """
        name = self.CONSTRUCT
        require_pattern(
            name,
            "path_pattern",
            path_pattern,
            _PATH_PATTERN,
            "a path pattern starting with '/', at most 255 of the characters CloudFront "
            "allows (A-Z a-z 0-9 _ - . $ / ~ \" ' @ : + & and the wildcards * and ?), "
            "e.g. '/api/*'",
        )
        if path_pattern in _DEFAULT_PATTERNS:
            raise fail(
                name,
                "path_pattern",
                f"is {path_pattern!r}, which is the default behaviour (the site itself); "
                "name the API's paths, e.g. '/api/*'",
            )
        if path_pattern in self._api_patterns:
            raise fail(
                name, "path_pattern", f"{path_pattern!r} was already added; each pattern once"
            )
        if not hasattr(origin, "bind"):
            raise fail(
                name,
                "origin",
                "must be an aws_cloudfront.IOrigin (e.g. aws_cloudfront_origins.RestApiOrigin"
                f"(api) or HttpOrigin(host)), got {type(origin).__name__}",
            )
        if not isinstance(forward_host_header, bool):
            raise fail(
                name,
                "forward_host_header",
                f"must be True or False, got {forward_host_header!r}",
            )
        self.distribution.add_behavior(
            path_pattern,
            origin,
            viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
            allowed_methods=cloudfront.AllowedMethods.ALLOW_ALL,
            cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
            origin_request_policy=cloudfront.OriginRequestPolicy.ALL_VIEWER
            if forward_host_header
            else cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
            response_headers_policy=self.response_headers_policy,
        )
        self._api_patterns.append(path_pattern)

    def deploy(
        self,
        id: str,
        sources: Sequence[s3deploy.ISource],
        *,
        log_retention: logs.RetentionDays | None = None,
        memory_limit: int = 512,
    ) -> s3deploy.BucketDeployment:
        """Upload ``sources`` (e.g. ``Source.asset("web/dist")``) to the site bucket at each
        deploy, delete the files they no longer hold (``prune``), and invalidate the
        distribution's cache (``/*``) so viewers get the new version.

        The upload runs in aws-cdk-lib's BucketDeployment function (``memory_limit`` MiB,
        default 512; large sites may need more), logging to a log group of its own kept
        ``log_retention`` (default: the site's ``log_retention``, one month) and removed
        with the site's ``removal_policy``. That function is one per stack and memory size,
        shared by every BucketDeployment of the stack with the same ``memory_limit``: its
        log group is the one of the first deployment that created it (a later ``deploy``
        then creates none and reports a warning). The findings cdk-nag reports on that
        function, which aws-cdk-lib builds and this construct cannot change, are
        acknowledged on it (it lives at the stack's root, outside this construct), each
        by its granular id: its runtime (AwsSolutions-L1, Serverless-LambdaLatestVersion),
        AWS's basic execution managed policy (IAM4), the wildcard actions of aws-cdk-lib's
        bucket grants, the objects of the site bucket and of the sources' buckets, and
        CloudFront's invalidation actions, which support only ``*`` (IAM5), and the
        Serverless pack's dead-letter queue and tracing rules. As the function is shared,
        these acknowledgements also cover the same findings of the stack's other
        BucketDeployments with the same ``memory_limit``.
        """
        name = self.CONSTRUCT
        if not isinstance(id, str) or re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", id) is None:
            raise fail(name, "id", f"is {id!r}; it must be a construct id like 'Deploy'")
        if self.node.try_find_child(id) or self.node.try_find_child(f"{id}Logs"):
            raise fail(name, "id", f"{id!r} is taken in this StaticSite; give each deploy its own")
        if isinstance(sources, str) or not sources:
            raise fail(
                name,
                "sources",
                "must be a non-empty list of aws_s3_deployment sources, e.g. "
                "[Source.asset('web/dist')]",
            )
        for index, source in enumerate(sources):
            if not hasattr(source, "bind"):
                raise fail(
                    name,
                    f"sources[{index}]",
                    "must be an aws_s3_deployment.ISource (e.g. Source.asset(...)), got "
                    f"{type(source).__name__}",
                )
        if log_retention is None:
            log_retention = self.log_retention
        _check_log_retention(name, log_retention)
        if isinstance(memory_limit, bool) or not isinstance(memory_limit, int):
            raise fail(name, "memory_limit", f"must be a whole number of MiB, got {memory_limit!r}")
        require_range(name, "memory_limit", memory_limit, minimum=128, maximum=10240)

        stack = Stack.of(self)
        existing = {child.node.id for child in stack.node.children}
        log_group = logs.LogGroup(
            self,
            f"{id}Logs",
            retention=log_retention,
            removal_policy=self.removal_policy,
        )
        deployment = s3deploy.BucketDeployment(
            self,
            id,
            destination_bucket=self.bucket,
            sources=list(sources),
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=memory_limit,
            log_group=log_group,
        )
        handler = deployment.handler_role.node.scope
        assert handler is not None
        if handler.node.scope is stack and handler.node.id in existing:
            # The stack's BucketDeployment function was created before, with its own log
            # group: this one would stay empty.
            self.node.try_remove_child(log_group.node.id)
            Annotations.of(deployment).add_warning_v2(
                "cdk-microservices:deploy:shared-handler",
                f"{name}: this stack's BucketDeployment function ({handler.node.path}) "
                "already existed, so it keeps the log group (and retention) of the "
                "deployment that created it; log_retention is not applied here.",
            )
        self._acknowledge_deployment_handler(handler, deployment)
        return deployment

    def _acknowledge_deployment_handler(
        self, handler: IConstruct, deployment: s3deploy.BucketDeployment
    ) -> None:
        """Acknowledge, on aws-cdk-lib's BucketDeployment function, the findings this
        site's deployment causes there (see ``deploy``)."""
        bucket_arn = nag_finding(self, self.bucket.bucket_arn)
        acknowledge(
            handler,
            "AwsSolutions::AwsSolutions-L1",
            "aws-cdk-lib's BucketDeployment function: aws-cdk-lib fixes its runtime (and "
            "moves it with its releases) for its bundled handler; it runs only while "
            "CloudFormation deploys the site.",
        )
        acknowledge(
            handler,
            "Serverless::Serverless-LambdaLatestVersion",
            "aws-cdk-lib's BucketDeployment function: aws-cdk-lib fixes its runtime (and "
            "moves it with its releases) for its bundled handler.",
        )
        acknowledge(
            handler,
            "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "service-role/AWSLambdaBasicExecutionRole]",
            "aws-cdk-lib's BucketDeployment function role: AWS's basic execution policy "
            "lets it write its own logs and nothing else.",
        )
        for action in ("s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*"):
            acknowledge(
                handler,
                f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]",
                "aws-cdk-lib's BucketDeployment grants (read the sources, replace the "
                "site's files) name S3 actions by these prefixes; each statement names its "
                "buckets: the sources' and the site bucket.",
            )
        acknowledge(
            handler,
            "AwsSolutions::AwsSolutions-IAM5[Action::s3:Abort*]",
            "aws-cdk-lib's bucket write grant: aborting this function's own multipart "
            "uploads to the site bucket.",
        )
        for source_objects in _source_read_grants(deployment):
            acknowledge(
                handler,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{source_objects}]",
                "aws-cdk-lib's BucketDeployment reads the deployment's source files (for "
                "Source.asset, the stack's asset bucket): any object of the source bucket.",
            )
        acknowledge(
            handler,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{bucket_arn}/*]",
            "The deployment replaces the site's files: every object of the site bucket.",
        )
        acknowledge(
            handler,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "cloudfront:CreateInvalidation and GetInvalidation, which aws-cdk-lib grants on "
            "'*' to invalidate the site's distribution after the upload.",
        )
        acknowledge(
            handler,
            "Serverless::Serverless-LambdaDLQ",
            "CloudFormation invokes this custom resource function and waits for its answer: "
            "a failure fails the stack deployment, where it is seen; a dead-letter queue "
            "would hold a request nobody can replay.",
        )
        acknowledge(
            handler,
            "Serverless::Serverless-LambdaTracing",
            "aws-cdk-lib's BucketDeployment function copies files during a deployment; its "
            "logs record each run, and tracing would need X-Ray permissions on '*'.",
        )


def _check_log_retention(construct: str, log_retention: logs.RetentionDays) -> None:
    if not isinstance(log_retention, logs.RetentionDays):
        raise fail(
            construct,
            "log_retention",
            f"must be an aws_logs.RetentionDays, got {type(log_retention).__name__}",
        )
    if log_retention == logs.RetentionDays.INFINITE:
        raise fail(
            construct,
            "log_retention",
            "is INFINITE; the site's function logs are kept a limited time (e.g. ONE_MONTH)",
        )


def _source_read_grants(deployment: s3deploy.BucketDeployment) -> list[str]:
    """The object ARNs (``<bucket ARN>/*``, as cdk-nag writes them) of the read-only
    grants on the deployment function's role: the sources' buckets, which ``ISource``
    does not expose before aws-cdk-lib binds it."""
    policy = deployment.handler_role.node.try_find_child("DefaultPolicy")
    if not isinstance(policy, iam.Policy):
        return []
    document = Stack.of(policy).resolve(policy.document)
    read_actions = {"s3:GetObject*", "s3:GetBucket*", "s3:List*"}
    found: list[str] = []
    for statement in document.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Allow" or not set(actions) <= read_actions:
            continue
        resources = statement.get("Resource", [])
        for resource in [resources] if not isinstance(resources, list) else resources:
            rendered = nag_finding(policy, resource)
            if rendered.endswith("/*") and rendered not in found:
                found.append(rendered)
    return found


def _checked_connect_sources(construct: str, sources: Sequence[str]) -> tuple[str, ...]:
    if isinstance(sources, str):
        raise fail(construct, "connect_sources", "must be a list of origins, not one string")
    checked: list[str] = []
    for index, source in enumerate(sources):
        if not isinstance(source, str):
            raise fail(
                construct,
                f"connect_sources[{index}]",
                f"must be a string like 'https://auth.example.com', got {type(source).__name__}",
            )
        if not Token.is_unresolved(source):
            require_pattern(
                construct,
                f"connect_sources[{index}]",
                source,
                _ORIGIN,
                "an https origin: 'https://' and a host name, optionally ':port', without a "
                "path (e.g. 'https://auth.example.com')",
            )
        checked.append(source)
    return tuple(checked)


def _checked_domain_names(construct: str, names: Sequence[str]) -> tuple[str, ...]:
    if isinstance(names, str):
        raise fail(construct, "domain_names", "must be a list of host names, not one string")
    checked: list[str] = []
    for index, domain in enumerate(names):
        if not isinstance(domain, str):
            raise fail(
                construct,
                f"domain_names[{index}]",
                f"must be a string like 'www.example.com', got {type(domain).__name__}",
            )
        if not Token.is_unresolved(domain):
            require_pattern(
                construct,
                f"domain_names[{index}]",
                domain,
                _DOMAIN_NAME,
                "a host name like 'www.example.com' (or '*.example.com')",
            )
        if domain in checked:
            raise fail(construct, "domain_names", f"repeats {domain!r}")
        checked.append(domain)
    return tuple(checked)


def _check_web_acl_arn(construct: str, web_acl_arn: str) -> None:
    if not isinstance(web_acl_arn, str):
        raise fail(
            construct,
            "web_acl_arn",
            f"must be the web ACL's ARN (a string), got {type(web_acl_arn).__name__}",
        )
    if Token.is_unresolved(web_acl_arn):
        return
    if re.fullmatch(_CLOUDFRONT_WEB_ACL_ARN, web_acl_arn) is None:
        raise fail(
            construct,
            "web_acl_arn",
            f"is {web_acl_arn!r}; it must be the ARN of a WAFv2 web ACL of scope CLOUDFRONT, "
            "which lives in us-east-1: 'arn:aws:wafv2:us-east-1:<account>:global/webacl/"
            "<name>/<id>' (a REGIONAL web ACL cannot protect a distribution)",
        )
