"""REST request and response bodies (proto3 JSON mapping: snake_case out, snake_case or lowerCamel in)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from keyless.core.flows.passwordless import SendCommand, SendResult, VerifyCommand, VerifyResult
from keyless.core.models import TemplateType

_TEMPLATE_NUMBERS = {0: "UNSPECIFIED", 1: "SIGNIN", 2: "SIGNUP"}


def _template(value: Any) -> Any:
    # proto3 JSON accepts an enum by name or by number.
    if isinstance(value, int) and not isinstance(value, bool):
        return _TEMPLATE_NUMBERS.get(value, value)
    return value


def _uint32(value: Any) -> Any:
    # proto3 JSON accepts integers as numbers or numeric strings; anything fractional is refused.
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be an integer")
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


class SendRequestBody(_Body):
    email: StrictStr = Field(max_length=320)
    template: Annotated[TemplateType | None, BeforeValidator(_template)] = None
    magiclink_auth_uri: StrictStr | None = None
    state: StrictStr | None = None
    expires_in: Annotated[int | None, BeforeValidator(_uint32)] = None
    template_variables: dict[StrictStr, StrictStr] | None = None

    def command(self) -> SendCommand:
        return SendCommand(
            email=self.email,
            template=self.template,
            magiclink_auth_uri=self.magiclink_auth_uri,
            state=self.state,
            expires_in=self.expires_in,
            template_variables=self.template_variables,
        )


class ResendRequestBody(_Body):
    auth_request_id: StrictStr = Field(min_length=1, max_length=200)


class VerifyRequestBody(_Body):
    code: StrictStr | None = None
    link_token: StrictStr | None = None
    auth_request_id: StrictStr | None = None

    def command(self) -> VerifyCommand:
        return VerifyCommand(code=self.code, link_token=self.link_token, auth_request_id=self.auth_request_id)


def send_response(result: SendResult) -> dict[str, Any]:
    return {
        "auth_request_id": result.auth_request_id,
        "expires_at": str(result.expires_at),  # int64 is a JSON string in proto3 JSON
        "expires_in": result.expires_in,
        "passwordless_type": result.passwordless_type.value,
    }


def verify_response(result: VerifyResult) -> dict[str, Any]:
    body: dict[str, Any] = {"email": result.email}
    if result.state is not None:
        body["state"] = result.state
    if result.template is not None:
        body["template"] = result.template.value
    body["passwordless_type"] = result.passwordless_type.value
    return body


# OpenAPI descriptions of the responses.
class SendResponseBody(BaseModel):
    auth_request_id: str
    expires_at: str = Field(description="Unix seconds, as a string (proto3 int64)")
    expires_in: int
    passwordless_type: str = Field(description="OTP, LINK or LINK_OTP")


class VerifyResponseBody(BaseModel):
    email: str
    state: str | None = None
    template: str | None = None
    passwordless_type: str
