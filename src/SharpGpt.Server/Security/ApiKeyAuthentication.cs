using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using SharpGpt.Server.Errors;
using SharpGpt.Server.Hosting;

namespace SharpGpt.Server.Security;

/// <summary>
/// Optional Bearer API keys on /v1/*. Keys are compared as SHA-256 digests with a fixed-time comparison, so
/// neither the length nor the content of a valid key leaks through response timing.
/// </summary>
public sealed class ApiKeyAuthentication(IOptions<ServerOptions> options)
{
    private readonly byte[][] _keys = options.Value.ApiKeys.Where(k => k.Length > 0).Select(Digest).ToArray();

    public bool Enabled => _keys.Length > 0;

    public bool IsAuthorized(HttpContext context)
    {
        string? header = context.Request.Headers.Authorization;
        if (header == null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }
        byte[] presented = Digest(header["Bearer ".Length..].Trim());
        bool match = false;
        foreach (byte[] key in _keys)
        {
            match |= CryptographicOperations.FixedTimeEquals(key, presented);
        }
        return match;
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public static void UseApiKeys(WebApplication app)
    {
        var authentication = app.Services.GetRequiredService<ApiKeyAuthentication>();
        if (!authentication.Enabled)
        {
            return;
        }
        app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/v1") && !HttpMethods.IsOptions(context.Request.Method) && !authentication.IsAuthorized(context))
            {
                await ErrorResponses.Write(context, new ApiError(401,
                    "Incorrect or missing API key. Send it as 'Authorization: Bearer <key>'.", param: null, code: "invalid_api_key"));
                return;
            }
            await next(context);
        });
    }
}
