"""Asset names as the API takes them: the names of the registered asset kinds (`ledger_core.assets`) that an
endpoint deals in, read when a request is validated and when the OpenAPI document is made, so a kind added to
the registry is accepted and listed (an `enum` in the schema) without touching a router. A wrong name is refused
exactly as a `Literal` of the names would refuse it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from ledger_core.assets import traced_names, tradeable_names


def expected(names: tuple[str, ...]) -> str:
    """The names as pydantic lists a Literal's choices: 'a', 'b' or 'c'."""
    quoted = [repr(n) for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


class AssetNames:
    """Pydantic metadata: the value is one of `names()`, a string."""

    def __init__(self, names: Callable[[], tuple[str, ...]]) -> None:
        self.names = names

    def check(self, value: Any) -> str:
        names = self.names()
        if isinstance(value, str) and value in names:
            return value
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected(names)})

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.check, serialization=core_schema.plain_serializer_function_ser_schema(str))

    def __get_pydantic_json_schema__(self, schema: core_schema.CoreSchema,
                                     handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return {"enum": list(self.names()), "type": "string"}


TradeableAsset = Annotated[str, AssetNames(tradeable_names)]
"""An asset the market trades ("allowance", "credit", ...)."""
TracedAsset = Annotated[str, AssetNames(traced_names)]
"""An asset traced by token id ("allowance", "credit", ...)."""
