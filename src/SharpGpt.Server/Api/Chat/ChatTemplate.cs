using System.Text;
using System.Text.Json;
using SharpGpt.Inference.Generation;
using SharpGpt.Server.Errors;

namespace SharpGpt.Server.Api.Chat;

/// <summary>Parses the messages of a chat request; rendering is <see cref="ChatPrompt"/>'s job.</summary>
public static class ChatTemplate
{
    public static readonly IReadOnlyList<string> TurnStops = ChatPrompt.TurnStops;

    public static string Render(IReadOnlyList<ChatTurn> messages) => ChatPrompt.Render(messages);

    /// <summary>messages: [{role, content}] where content is a string or text parts.</summary>
    public static IReadOnlyList<ChatTurn> Parse(JsonElement? messages)
    {
        if (messages is not JsonElement array || array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
        {
            throw ApiError.BadRequest("'messages' must be a non-empty array.", "messages");
        }
        var result = new List<ChatTurn>();
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
            result.Add(new ChatTurn(name, Content(message, param)));
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
