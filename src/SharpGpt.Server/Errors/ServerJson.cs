using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpGpt.Server.Errors;

/// <summary>JSON settings of every response: snake_case names come from attributes; nulls are written (OpenAI does).</summary>
public static class ServerJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}
