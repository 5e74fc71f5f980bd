using System.Text;
using System.Text.Json;
using SharpGpt.Server.Errors;

namespace SharpGpt.Server.Api.Chat;

/// <summary>One chat message.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>
/// The plain-text chat template for base GPT models (they have no chat tokens): system text first, then
/// "User: …" and "Assistant: …" lines, ending with "Assistant:" for the model to continue. Generation stops
/// when the model starts the next "User:" turn.
/// </summary>
public static class ChatTemplate
{
    public static readonly string[] TurnStops = ["\nUser:", "\nSystem:"];

    public static string Render(IReadOnlyList<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (ChatMessage message in messages.Where(m => m.Role is "system" or "developer"))
        {
            text.Append(message.Content.Trim()).Append("\n\n");
        }
        foreach (ChatMessage message in messages.Where(m => m.Role is "user" or "assistant"))
        {
            text.Append(message.Role == "user" ? "User: " : "Assistant: ").Append(message.Content.Trim()).Append('\n');
        }
        return text.Append("Assistant:").ToString();
    }

    /// <summary>messages: [{role, content}] where content is a string or text parts.</summary>
    public static IReadOnlyList<ChatMessage> Parse(JsonElement? messages)
    {
        if (messages is not JsonElement array || array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
        {
            throw ApiError.BadRequest("'messages' must be a non-empty array.", "messages");
        }
        var result = new List<ChatMessage>();
        int i = 0;
        foreach (JsonElement message in array.EnumerateArray())
        {
            string param = $"messages[{i++}]";
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String)
            {
                throw ApiError.BadRequest($"{param} needs a 'role'.", param);
            }
            string name = role.GetString()!;
            if (name is not ("system" or "developer" or "user" or "assistant"))
            {
                throw ApiError.BadRequest($"{param}.role '{name}' is not supported (use system, user or assistant).", param + ".role");
            }
            result.Add(new ChatMessage(name, Content(message, param)));
        }
        if (!result.Any(m => m.Role == "user"))
        {
            throw ApiError.BadRequest("'messages' needs at least one user message.", "messages");
        }
        return result;
    }

    private static string Content(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out JsonElement content) || content.ValueKind == JsonValueKind.Null)
        {
            return "";
        }
        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }
        if (content.ValueKind == JsonValueKind.Array)
        {
            var parts = new StringBuilder();
            foreach (JsonElement part in content.EnumerateArray())
            {
                if (part.ValueKind != JsonValueKind.Object || !part.TryGetProperty("type", out JsonElement type) || type.GetString() != "text"
                    || !part.TryGetProperty("text", out JsonElement text) || text.ValueKind != JsonValueKind.String)
                {
                    throw ApiError.BadRequest($"{param}.content: only text parts are supported.", param + ".content");
                }
                parts.Append(text.GetString());
            }
            return parts.ToString();
        }
        throw ApiError.BadRequest($"{param}.content must be a string or an array of text parts.", param + ".content");
    }
}
