"""CloudFrontWebAcl: the WAF web ACL that protects CloudFront distributions.

Creates:

- ``web_acl``: a ``wafv2.CfnWebACL`` of scope ``CLOUDFRONT`` (WAFv2 has no L2 construct),
  allowing by default, with AWS's managed rule groups AWSManagedRulesCommonRuleSet,
  AWSManagedRulesKnownBadInputsRuleSet and AWSManagedRulesAmazonIpReputationList, and a
  per-IP rate limit; CloudWatch metrics and sampled requests on for the ACL and each rule.

A web ACL for CloudFront must be created in us-east-1: put this construct in a stack with
``env=Environment(region="us-east-1")`` and hand its ``arn`` to ``StaticSite(web_acl_arn=...)``
in whatever region the site's stack is (``cross_region_references=True`` on that stack, or
the ARN as a string).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack, Token
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from cdk_microservices._validation import (
    checked_arguments,
    fail,
    merge_props,
    require_pattern,
    require_range,
)

MANAGED_RULE_GROUPS = (
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesAmazonIpReputationList",
)
"""AWS managed rule groups the web ACL evaluates, in this order (priorities 0, 1, 2)."""
RATE_LIMIT_RULE = "RateLimitPerIp"
"""Name of the rate-based rule (the last rule, blocking)."""
# WAF's bounds on a rate-based rule's limit (requests per IP per 5-minute window); the
# CloudFormation resource schema of AWS::WAFv2::WebACL states the same 10..2,000,000,000.
RATE_LIMIT_MIN = 10
RATE_LIMIT_MAX = 2_000_000_000
# CloudWatch metric names of a web ACL: 1-128 of [A-Za-z0-9_#:.-/]; the longest suffix
# this construct appends is "-AWSManagedRulesAmazonIpReputationList" (38 characters).
_METRIC_PREFIX = r"[A-Za-z0-9_#:.\-/]{1,90}"


class CloudFrontWebAcl(Construct):
    """A WAF web ACL for CloudFront distributions: AWS managed rules and a per-IP rate limit.

    Defaults (each can be changed by its argument):

    - scope ``CLOUDFRONT``, which AWS accepts only in us-east-1: a stack without a region
      (environment-agnostic) or in another region is rejected at synth;
    - default action allow; the managed rule groups AWSManagedRulesCommonRuleSet (OWASP
      top risks), AWSManagedRulesKnownBadInputsRuleSet (exploit patterns such as Log4j)
      and AWSManagedRulesAmazonIpReputationList (addresses Amazon threat intelligence
      flags), each with its own rule actions (no override);
    - ``rate_limit``: requests one IP address may send in a 5-minute window before it is
      blocked (1000; WAF allows 10 to 2,000,000,000);
    - metrics: CloudWatch metrics and sampled requests for the ACL
      (``<metric_prefix>-web-acl``) and each rule (``<metric_prefix>-<rule name>``).

    Escape hatch: ``web_acl_props`` overrides keyword arguments of ``aws_wafv2.CfnWebACL``
    (e.g. ``rules`` to add your own, ``name``, ``custom_response_bodies``), except
    ``scope``.
    """

    CONSTRUCT = "CloudFrontWebAcl"

    @checked_arguments("CloudFrontWebAcl")
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        metric_prefix: str,
        rate_limit: int = 1000,
        web_acl_props: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, id)
        name = self.CONSTRUCT
        region = Stack.of(self).region
        if Token.is_unresolved(region):
            raise fail(
                name,
                "scope",
                "is in a stack without a region; a web ACL for CloudFront must be created in "
                "us-east-1: give the stack env=Environment(region='us-east-1')",
            )
        if region != "us-east-1":
            raise fail(
                name,
                "scope",
                f"is in a stack in {region}; a web ACL for CloudFront must be created in "
                "us-east-1: put it in a stack with env=Environment(region='us-east-1') and "
                "pass its arn to the distribution's stack",
            )
        require_pattern(
            name,
            "metric_prefix",
            metric_prefix,
            _METRIC_PREFIX,
            "1-90 of the characters CloudWatch allows in WAF metric names: letters, digits "
            "and _ # : . - /",
        )
        if isinstance(rate_limit, bool) or not isinstance(rate_limit, int):
            raise fail(name, "rate_limit", f"must be a whole number, got {rate_limit!r}")
        require_range(
            name, "rate_limit", rate_limit, minimum=RATE_LIMIT_MIN, maximum=RATE_LIMIT_MAX
        )
        if web_acl_props and "scope" in web_acl_props:
            raise fail(
                name,
                "web_acl_props",
                "sets 'scope'; this construct is the CLOUDFRONT web ACL (for a REGIONAL one, "
                "use aws_wafv2.CfnWebACL)",
            )

        def visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
            return wafv2.CfnWebACL.VisibilityConfigProperty(
                cloud_watch_metrics_enabled=True,
                metric_name=f"{metric_prefix}-{metric}",
                sampled_requests_enabled=True,
            )

        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name=rule_group,
                priority=priority,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name=rule_group
                    )
                ),
                visibility_config=visibility(rule_group),
            )
            for priority, rule_group in enumerate(MANAGED_RULE_GROUPS)
        ]
        rules.append(
            wafv2.CfnWebACL.RuleProperty(
                name=RATE_LIMIT_RULE,
                priority=len(MANAGED_RULE_GROUPS),
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        limit=rate_limit, aggregate_key_type="IP"
                    )
                ),
                visibility_config=visibility(RATE_LIMIT_RULE),
            )
        )
        defaults: dict[str, object] = {
            "scope": "CLOUDFRONT",
            "default_action": wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            "visibility_config": visibility("web-acl"),
            "rules": rules,
            "description": "CloudFront web ACL: AWS managed rules and a per-IP rate limit",
        }
        self.rate_limit = rate_limit
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            **merge_props(  # type: ignore[arg-type]
                name, "web_acl_props", wafv2.CfnWebACL, defaults, web_acl_props, scope=self
            ),
        )

    @property
    def arn(self) -> str:
        """The web ACL's ARN, for ``StaticSite(web_acl_arn=...)`` or
        ``cloudfront.Distribution(web_acl_id=...)``."""
        return self.web_acl.attr_arn
