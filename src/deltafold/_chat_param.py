"""A chat answer as the request's assistant message, to continue the conversation.

``Message.to_param()`` and ``ChatCompletion.to_param()`` give the message the next
request sends back (OpenAI's ``ChatCompletionAssistantMessageParam``): the role, the
content, the refusal, the tool calls with their ids, the legacy function call, the
audio's id, and OpenRouter's ``reasoning_details`` whole (their signatures and encrypted
data are what lets the reasoning go back to its model). Fields only a response has
(annotations, logprobs, images, the reasoning text) are left out: the API refuses them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._models import ChatCompletion, Message

__all__ = ["completion_param", "message_param"]


def message_param(message: Message) -> dict[str, Any]:
    """The assistant message ``message`` as a request takes it back."""
    param: dict[str, Any] = {"role": message.role or "assistant"}
    content = message.content
    if content is None and not (
        message.tool_calls or message.function_call is not None or message.refusal
    ):
        content = ""  # an assistant message needs content unless it calls or refuses
    param["content"] = content
    if message.refusal:  # some providers send ``""`` on every chunk: no refusal
        param["refusal"] = message.refusal
    if message.tool_calls:
        param["tool_calls"] = [
            {
                "id": call.id,
                "type": call.type or "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    if message.function_call is not None:
        call = message.function_call
        param["function_call"] = {"name": call.name, "arguments": call.arguments}
    if message.audio is not None and message.audio.id:
        param["audio"] = {"id": message.audio.id}
    if message.reasoning_details:
        param["reasoning_details"] = [detail.to_dict() for detail in message.reasoning_details]
    return param


def completion_param(completion: ChatCompletion, choice: int) -> dict[str, Any]:
    """Choice ``choice``'s message (by its ``index``) as a request takes it back."""
    for item in completion.choices:
        if item.index == choice:
            return message_param(item.message)
    held = [item.index for item in completion.choices]
    raise ValueError(
        f"ChatCompletion.to_param(choice={choice!r}): the completion holds no choice "
        f"{choice!r} (its choices: {held or 'none'})"
    )
