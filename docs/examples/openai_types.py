"""Turn a deltafold completion into the OpenAI SDK's own ChatCompletion type."""

import deltafold

try:
    from openai.types.chat import ChatCompletion as OpenAIChatCompletion
except ImportError:  # the openai package is in the "dev" extra, not a dependency
    print("skip: the openai package is not installed")
    raise SystemExit(77) from None

chunks = [
    {
        "id": "gen-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [{"index": 0, "delta": {"role": "assistant", "reasoning": "Need the weather."}}],
    },
    {
        "id": "gen-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {
                    "tool_calls": [
                        {
                            "index": 0,
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": '},
                        }
                    ]
                },
            }
        ],
    },
    {
        "id": "gen-7",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "delta": {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
                "finish_reason": "tool_calls",
            }
        ],
    },
]

completion = deltafold.assemble(chunks)

# to_dict() is the wire form, the same JSON a non-streaming request returns,
# so the SDK's pydantic model validates it directly.
sdk = OpenAIChatCompletion.model_validate(completion.to_dict())

message = sdk.choices[0].message
print(type(sdk).__module__, type(sdk).__name__)
for call in message.tool_calls or []:  # the SDK types tool_calls as optional
    if call.type == "function":  # the SDK's union also has custom tool calls
        print(call.function.name, call.function.arguments)
# Fields the SDK does not declare (here OpenRouter-style `reasoning`) stay reachable:
print("reasoning:", (message.model_extra or {})["reasoning"])
