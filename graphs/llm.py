"""The chat model: Azure OpenAI (the workshop's DIAL set-up), OpenAI, or offline.

``get_chat_model()`` picks the provider from the environment each time it is
called (never at import), so a server starts whatever is configured:

- ``AZURE_OPENAI_ENDPOINT`` set: ``AzureChatOpenAI`` (the seed's DIAL proxy), with
  ``AZURE_OPENAI_API_VERSION`` (default 2024-02-01), ``AZURE_OPENAI_DEPLOYMENT_NAME``
  (default gpt-4) and the key in ``DIAL_API_KEY`` or ``AZURE_OPENAI_API_KEY``;
- ``OPENAI_API_KEY`` set: ``ChatOpenAI`` (``OPENAI_BASE_URL`` for compatible servers,
  ``OPENAI_MODEL``, default gpt-4o-mini);
- neither: :class:`OfflineChatModel`, deterministic and local.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import SecretStr


class ModelConfigError(ValueError):
    """The configured provider is missing a setting."""


def get_chat_model(name: str = "auto") -> BaseChatModel:
    """Return the chat model ``name`` names, or with ``auto`` the one the environment configures.

    ``name`` (the assistant's ``Context.model``): ``auto``, ``offline``,
    ``openai:<model>`` or ``azure:<deployment>``; the endpoint and key always come
    from the environment.

    Raises:
        ModelConfigError: A provider is configured but its key is missing, or the name
            is not one of the forms above.
    """
    provider, _, model = name.partition(":")
    if provider == "offline":
        return OfflineChatModel()
    if provider not in ("auto", "openai", "azure") or (provider != "auto" and not model):
        raise ModelConfigError(
            f"unknown model {name!r}: auto, offline, openai:<model> or azure:<deployment>"
        )
    timeout = float(os.environ.get("HITL_LLM_TIMEOUT", "60"))
    retries = int(os.environ.get("HITL_LLM_MAX_RETRIES", "2"))
    endpoint = os.environ.get("AZURE_OPENAI_ENDPOINT")
    if provider == "azure" and not endpoint:
        raise ModelConfigError(f"model {name!r} needs AZURE_OPENAI_ENDPOINT")
    if endpoint and provider in ("auto", "azure"):
        from langchain_openai import AzureChatOpenAI

        key = os.environ.get("DIAL_API_KEY") or os.environ.get("AZURE_OPENAI_API_KEY")
        if not key:
            raise ModelConfigError(
                "AZURE_OPENAI_ENDPOINT is set but DIAL_API_KEY (or AZURE_OPENAI_API_KEY) is not"
            )
        return AzureChatOpenAI(
            azure_endpoint=endpoint,
            api_key=SecretStr(key),
            api_version=os.environ.get("AZURE_OPENAI_API_VERSION", "2024-02-01"),
            azure_deployment=model or os.environ.get("AZURE_OPENAI_DEPLOYMENT_NAME", "gpt-4"),
            temperature=0,
            timeout=timeout,
            max_retries=retries,
        )
    key = os.environ.get("OPENAI_API_KEY")
    if provider == "openai" and not key:
        raise ModelConfigError(f"model {name!r} needs OPENAI_API_KEY")
    if key:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model or os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
            api_key=SecretStr(key),
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
            temperature=0,
            timeout=timeout,
            max_retries=retries,
        )
    return OfflineChatModel()


AMOUNT = r"(\d+(?:\.\d{1,2})?)"
INTENTS = [
    ("file_expense", re.compile(rf"\b(?:file|submit|claim)\b.*?{AMOUNT}\s*(?:for\s+)?(.*)", re.I)),
    ("pay", re.compile(rf"\bpay\b\D*{AMOUNT}(?:\s*to\s+(\w[\w .-]*))?", re.I)),
    ("refund", re.compile(rf"\brefund\b\D*{AMOUNT}(?:\s*(?:to|for)\s+(\w[\w .-]*))?", re.I)),
]


class OfflineChatModel(BaseChatModel):
    """A deterministic, stateless model that proposes tool calls from the user's words.

    It reads only the conversation it is given: the last user message picks the
    tools ("policy" looks up the policy; "file/submit/claim <amount> for <what>"
    files an expense; "pay <amount> to <whom>" and "refund <amount> to <whom>"
    move money; several requests joined by "and" become several tool calls in one
    turn). After tool results it answers in words. ``bind_tools`` returns itself,
    so ``create_agent`` can use it.
    """

    @property
    def _llm_type(self) -> str:
        return "offline-hitl"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> OfflineChatModel:
        """Return this model: it knows the project's tools by name."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.reply(messages))])

    def reply(self, messages: list[BaseMessage]) -> AIMessage:
        """Decide the next message from the conversation alone."""
        last = messages[-1] if messages else None
        if isinstance(last, ToolMessage):
            results = []
            for msg in reversed(messages):
                if not isinstance(msg, ToolMessage):
                    break
                results.append(f"{msg.name}: {msg.content}")
            return AIMessage(content="Done. " + " | ".join(reversed(results)))
        text = last.content if isinstance(last, HumanMessage) else ""
        calls = self.tool_calls_for(text if isinstance(text, str) else json.dumps(text))
        if not calls:
            return AIMessage(
                content="I can look up the expense policy, file an expense "
                "('file 120 for a taxi'), pay or refund an amount ('pay 50 to acme')."
            )
        return AIMessage(content="", tool_calls=calls)

    @staticmethod
    def tool_calls_for(text: str) -> list[dict[str, Any]]:
        """Map a request to tool calls, one per clause."""
        calls = []
        for clause in re.split(r"\band then\b|\band\b|;", text, flags=re.I):
            call = _clause_call(clause.strip())
            if call:
                calls.append({**call, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"})
        return calls


def _clause_call(clause: str) -> dict[str, Any] | None:
    if re.search(r"\bpolic(y|ies)\b|\blimit", clause, re.I):
        return {"name": "lookup_policy", "args": {}}
    for name, pattern in INTENTS:
        if match := pattern.search(clause):
            amount = float(match.group(1))
            rest = (match.group(2) or "").strip(" .") or None
            if name == "file_expense":
                return {"name": name, "args": {"amount": amount, "description": rest or "expense"}}
            return {"name": name, "args": {"amount": amount, "recipient": rest or "unknown"}}
    return None
