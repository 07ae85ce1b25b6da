"""Request and response bodies (they are also the served OpenAPI schema).

Requests are validated strictly (no "8" for 8, no true for 1); unknown fields are ignored, as clients
of OpenAI-compatible servers send extra ones (`user`, ...).
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import BaseModel, ConfigDict, Field

TextOrTokens = Union[str, list[str], list[int], list[list[int]]]
TASK_HELP = ("Task adapter: retrieval, text-matching, clustering or classification (also chosen by a "
             "model-name suffix, e.g. `<model>-clustering`).")


class _Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class EmbeddingRequest(_Request):
    """OpenAI's `POST /v1/embeddings` body, plus `task`, `prompt_name` and `truncate`."""

    input: TextOrTokens = Field(description="A string or a list of strings; or token ids of this model's own "
                                            "tokenizer (a list of ints, or a list of such lists) if the server "
                                            "was started with --accept-token-ids.")
    model: str | None = Field(None, description="A served model id (GET /v1/models); a task suffix picks the "
                                                "adapter. Omitted: the served model's default task.")
    dimensions: int | None = Field(None, description="Matryoshka dimension: keep the first N dims, renormalise.")
    encoding_format: Literal["float", "base64"] | None = Field(
        "float", description="float: JSON numbers; base64: little-endian float32 bytes, base64-encoded.")
    user: str | None = Field(None, description="Accepted and ignored.")
    task: str | None = Field(None, description=TASK_HELP)
    prompt_name: str | None = Field(None, description="A prompt of the model (e.g. query or document); "
                                                      "default: the model's default prompt.")
    truncate: bool | None = Field(True, description="Cut inputs longer than the model's context (true) or refuse "
                                             "them with a 400 (false).")


class EmbeddingData(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[EmbeddingData]
    model: str
    usage: Usage


class EmbedRequest(_Request):
    """Text Embeddings Inference's `POST /embed` body, plus `task` and `dimensions`."""

    inputs: Union[str, list[str]] = Field(description="A string or a list of strings.")
    normalize: bool | None = Field(True, description="L2-normalise the vectors.")
    truncate: bool | None = Field(False, description="Cut inputs longer than the model's context; if false, such "
                                              "inputs are refused with a 413 (as TEI does).")
    truncation_direction: Literal["right", "Right"] | None = Field("right", description="Only right truncation.")
    prompt_name: str | None = Field(None, description="A prompt of the model (e.g. query or document).")
    dimensions: int | None = Field(None, description="Matryoshka dimension: keep the first N dims.")
    task: str | None = Field(None, description=TASK_HELP)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "mlx-embed"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    model: str
    queue: int


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
