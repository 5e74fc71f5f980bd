using System.Text.Json;
using SharpGpt.Server.Errors;

namespace SharpGpt.Server.Api;

/// <summary>
/// Reads a JSON request body within the configured size limit and offers typed accessors that fail with an
/// OpenAI-style 400 naming the parameter. Nothing here throws anything but <see cref="ApiError"/>.
/// </summary>
public sealed class RequestReader(JsonElement root)
{
    public JsonElement Root { get; } = root;

    public static async Task<RequestReader> ReadAsync(HttpRequest request, long maxBytes, CancellationToken cancellation)
    {
        if (request.ContentLength > maxBytes)
        {
            throw new ApiError(413, $"The request body is {request.ContentLength} bytes; the limit is {maxBytes}.", code: "request_too_large");
        }
        using var buffer = new MemoryStream();
        byte[] chunk = new byte[16384];
        int read;
        try
        {
            while ((read = await request.Body.ReadAsync(chunk, cancellation)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new ApiError(413, $"The request body is larger than the limit of {maxBytes} bytes.", code: "request_too_large");
                }
                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == 413)
        {
            throw new ApiError(413, $"The request body is larger than the limit of {maxBytes} bytes.", code: "request_too_large");
        }
        try
        {
            using JsonDocument document = JsonDocument.Parse(buffer.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw ApiError.BadRequest("The request body must be a JSON object.");
            }
            return new RequestReader(document.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw ApiError.BadRequest($"We could not parse the JSON body of your request ({ex.Message}).");
        }
    }

    public bool Has(string name) => Root.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => Root.TryGetProperty(name, out JsonElement value) && value.ValueKind != JsonValueKind.Null ? value : null;

    public string? String(string name) => Get(name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        _ => throw ApiError.BadRequest($"'{name}' must be a string.", name),
    };

    public bool Bool(string name, bool fallback) => Get(name) switch
    {
        null => fallback,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => throw ApiError.BadRequest($"'{name}' must be a boolean.", name),
    };

    public double? Number(string name, double min, double max)
    {
        if (Get(name) is not JsonElement v)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
        {
            throw ApiError.BadRequest($"'{name}' must be a number.", name);
        }
        if (d < min || d > max)
        {
            throw ApiError.BadRequest($"'{name}' must be between {min} and {max}; got {d}.", name);
        }
        return d;
    }

    public int? Integer(string name, long min, long max)
    {
        if (Get(name) is not JsonElement v)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long i))
        {
            throw ApiError.BadRequest($"'{name}' must be an integer.", name);
        }
        if (i < min || i > max)
        {
            throw ApiError.BadRequest($"'{name}' must be between {min} and {max}; got {i}.", name);
        }
        return (int)i;
    }

    /// <summary>stop: a string or an array of 1–4 strings.</summary>
    public IReadOnlyList<string> Stop(string name = "stop")
    {
        switch (Get(name))
        {
            case null:
                return [];
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString()!.Length == 0 ? [] : [s.GetString()!];
            case { ValueKind: JsonValueKind.Array } array:
                if (array.GetArrayLength() > 4)
                {
                    throw ApiError.BadRequest($"'{name}' takes at most 4 sequences.", name);
                }
                return array.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String
                    ? e.GetString()!
                    : throw ApiError.BadRequest($"'{name}' must be a string or an array of strings.", name)).Where(s => s.Length > 0).ToArray();
            default:
                throw ApiError.BadRequest($"'{name}' must be a string or an array of strings.", name);
        }
    }

    /// <summary>logit_bias: an object mapping token ids (as strings) to numbers in [−100, 100].</summary>
    public IReadOnlyDictionary<int, float>? LogitBias(int vocabSize)
    {
        if (Get("logit_bias") is not JsonElement v)
        {
            return null;
        }
        if (v.ValueKind != JsonValueKind.Object)
        {
            throw ApiError.BadRequest("'logit_bias' must be an object mapping token ids to numbers.", "logit_bias");
        }
        var bias = new Dictionary<int, float>();
        foreach (JsonProperty entry in v.EnumerateObject())
        {
            if (!int.TryParse(entry.Name, out int token) || token < 0 || token >= vocabSize)
            {
                throw ApiError.BadRequest($"logit_bias key '{entry.Name}' is not a token id of this model (0–{vocabSize - 1}).", "logit_bias");
            }
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetDouble(out double d) || d < -100 || d > 100)
            {
                throw ApiError.BadRequest($"logit_bias value for {token} must be a number between -100 and 100.", "logit_bias");
            }
            bias[token] = (float)d;
        }
        return bias;
    }

    /// <summary>Rejects parameters this server does not implement instead of silently ignoring them.</summary>
    public void RejectUnsupported(params string[] names)
    {
        foreach (string name in names)
        {
            if (Has(name))
            {
                throw ApiError.BadRequest($"'{name}' is not supported by this server.", name);
            }
        }
    }
}
