"""Runtime code shared by the payments platform's Lambda functions.

Shipped to the functions as a Lambda layer built from ``lambda_src/shared/`` (so the
package lands in ``/opt/python``, which is on the runtime's path); it needs nothing but
the Powertools layer and boto3.

- ``api_proxy``: the caller and the responses of API Gateway proxy integrations;
- ``events``: the event envelope, validation against the contracts under ``contracts/``
  (shipped as a second layer, at ``/opt/events``) and publishing to an event bus topic.
"""
