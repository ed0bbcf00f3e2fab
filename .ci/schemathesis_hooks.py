"""Checks of our own for .ci/schemathesis (loaded through SCHEMATHESIS_HOOKS).

The one operation allowed to answer valid data with 422 (PUT s2s-credentials,
where Zoom decides) may use it only for Zoom's refusal: any other 422 code
there is a disagreement between the document and the handler.
"""

import schemathesis

S2S_PUT = "PUT /api/v1/orgs/{org}/s2s-credentials"


@schemathesis.check
def only_zoom_refuses_valid_s2s_credentials(ctx, response, case):
    if case.operation.label != S2S_PUT or response.status_code != 422:
        return None
    body = response.json()
    if body.get("error") != "s2s_credentials_rejected" or not body.get("message"):
        raise AssertionError(f"422 from {S2S_PUT} must be s2s_credentials_rejected, got {body}")
    return None
