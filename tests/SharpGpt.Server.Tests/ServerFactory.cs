using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using SharpGpt.TestSupport;

namespace SharpGpt.Server.Tests;

/// <summary>An in-memory SharpGPT server (WebApplicationFactory) over the tiny model, with optional extra settings.</summary>
public sealed class ServerFactory : WebApplicationFactory<Program>
{
    private readonly IReadOnlyDictionary<string, string>? _settings;

    public ServerFactory()
    {
    }

    /// <summary>A server with extra settings (internal: xunit wants one public constructor on class fixtures).</summary>
    internal ServerFactory(IReadOnlyDictionary<string, string> settings) => _settings = settings;

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("SharpGpt:Models:0", "tiny=" + TinyModel.Path);
        builder.UseSetting("SharpGpt:MaxBatch", "4");
        builder.UseSetting("SharpGpt:MaxTokensPerStep", "64");
        foreach ((string key, string value) in _settings ?? new Dictionary<string, string>())
        {
            builder.UseSetting(key, value);
        }
    }

    public SharpGpt.Server.Hosting.ModelRegistry Registry => (SharpGpt.Server.Hosting.ModelRegistry)Services.GetService(typeof(SharpGpt.Server.Hosting.ModelRegistry))!;

    public SharpGpt.Inference.Serving.EngineStatistics Statistics => Registry.Models.First().Engine.Statistics;
}

/// <summary>Small helpers for JSON requests and SSE streams.</summary>
public static class Http
{
    public static Task<HttpResponseMessage> Post(this HttpClient client, string path, string json) =>
        client.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));

    public static Task<HttpResponseMessage> Post(this HttpClient client, string path, object body, CancellationToken cancellation = default) =>
        client.PostAsJsonAsync(path, body, cancellation);

    public static async Task<JsonElement> Json(this HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    /// <summary>The JSON payloads of an SSE stream, up to [DONE] (which must be present).</summary>
    public static async Task<List<JsonElement>> Events(this HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        var events = new List<JsonElement>();
        bool done = false;
        foreach (string line in body.Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string data = line.Trim();
            if (!data.StartsWith("data: ", StringComparison.Ordinal))
            {
                throw new InvalidDataException($"Not an SSE data line: {data}");
            }
            data = data[6..];
            if (data == "[DONE]")
            {
                done = true;
                continue;
            }
            events.Add(JsonDocument.Parse(data).RootElement);
        }
        if (!done)
        {
            throw new InvalidDataException("The stream did not end with [DONE].");
        }
        return events;
    }
}
