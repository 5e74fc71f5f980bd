using System.Text.Json.Serialization;

namespace SharpGpt.Server.Errors;

/// <summary>
/// An error as the OpenAI API reports it: {"error": {"message", "type", "param", "code"}} with an HTTP status.
/// Throwing one anywhere in an endpoint produces exactly that response.
/// </summary>
public sealed class ApiError : Exception
{
    public ApiError(int status, string message, string type = "invalid_request_error", string? param = null, string? code = null)
        : base(message)
    {
        Status = status;
        Type = type;
        Param = param;
        Code = code;
    }

    public int Status { get; }
    public string Type { get; }
    public string? Param { get; }
    public string? Code { get; }

    /// <summary>Seconds to send in Retry-After (429 only).</summary>
    public int? RetryAfterSeconds { get; init; }

    public static ApiError BadRequest(string message, string? param = null, string? code = null) => new(400, message, param: param, code: code);

    public ErrorBody Body => new(new ErrorDetail(Message, Type, Param, Code));
}

public sealed record ErrorBody([property: JsonPropertyName("error")] ErrorDetail Error);

public sealed record ErrorDetail(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param")] string? Param,
    [property: JsonPropertyName("code")] string? Code);
