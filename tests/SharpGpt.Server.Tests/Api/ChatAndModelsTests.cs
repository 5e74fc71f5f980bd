using System.Net;
using System.Text.Json;
using Xunit;

namespace SharpGpt.Server.Tests.Api;

public class ChatAndModelsTests : IClassFixture<ServerFactory>
{
    private readonly HttpClient _client;

    public ChatAndModelsTests(ServerFactory factory) => _client = factory.CreateClient();

    private static readonly object[] Messages =
    [
        new { role = "system", content = "You are terse." },
        new { role = "user", content = "Say hello." },
    ];

    [Fact]
    public async Task ChatCompletionHasOpenAisShape()
    {
        JsonElement body = await (await _client.Post("/v1/chat/completions", new { model = "tiny", messages = Messages, max_tokens = 6, seed = 2, logprobs = true, top_logprobs = 2 })).Json();
        Assert.Equal("chat.completion", body.GetProperty("object").GetString());
        JsonElement choice = body.GetProperty("choices")[0];
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.Equal(JsonValueKind.String, choice.GetProperty("message").GetProperty("content").ValueKind);
        JsonElement content = choice.GetProperty("logprobs").GetProperty("content");
        Assert.Equal(body.GetProperty("usage").GetProperty("completion_tokens").GetInt32(), content.GetArrayLength());
        Assert.Equal(2, content[0].GetProperty("top_logprobs").GetArrayLength());
    }

    [Fact]
    public async Task ChatStreamsRoleThenContentDeltas()
    {
        HttpResponseMessage response = await _client.Post("/v1/chat/completions", new { model = "tiny", messages = Messages, max_tokens = 5, stream = true, seed = 4 });
        List<JsonElement> events = await response.Events();
        Assert.All(events, e => Assert.Equal("chat.completion.chunk", e.GetProperty("object").GetString()));
        Assert.Equal("assistant", events[0].GetProperty("choices")[0].GetProperty("delta").GetProperty("role").GetString());
        Assert.NotNull(events[^1].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        JsonElement whole = await (await _client.Post("/v1/chat/completions", new { model = "tiny", messages = Messages, max_tokens = 5, seed = 4 })).Json();
        string streamed = string.Concat(events.Skip(1).Select(e => e.GetProperty("choices")[0].GetProperty("delta").GetProperty("content").GetString()));
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), streamed);
    }

    [Fact]
    public async Task ModelsHealthReadyMetricsAndOpenApi()
    {
        JsonElement models = await (await _client.GetAsync("/v1/models")).Json();
        Assert.Equal("list", models.GetProperty("object").GetString());
        Assert.Equal("tiny", models.GetProperty("data")[0].GetProperty("id").GetString());
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/v1/models/tiny")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await _client.GetAsync("/v1/models/none")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await _client.GetAsync("/health")).StatusCode);
        Assert.Equal("ready", (await (await _client.GetAsync("/ready")).Json()).GetProperty("status").GetString());
        await _client.Post("/v1/completions", new { model = "tiny", prompt = "count me", max_tokens = 2 });
        string metrics = await _client.GetStringAsync("/metrics");
        foreach (string name in new[] { "sharpgpt_requests_total", "sharpgpt_errors_total", "sharpgpt_queue_depth", "sharpgpt_active_sequences",
                     "sharpgpt_time_to_first_token_seconds_bucket", "sharpgpt_generated_tokens_total", "sharpgpt_kv_cache_occupancy_ratio" })
        {
            Assert.Contains(name, metrics);
        }
        JsonElement openApi = await (await _client.GetAsync("/openapi/v1.json")).Json();
        Assert.True(openApi.GetProperty("paths").TryGetProperty("/v1/completions", out _));
        string page = await _client.GetStringAsync("/");
        Assert.Contains("SharpGPT playground", page);
    }
}
