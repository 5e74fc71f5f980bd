using System.Net;
using System.Text.Json;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Server.Tests.Api;

/// <summary>Every kind of bad request gets OpenAI's error JSON with the right status, never a 500.</summary>
public class BadInputTests : IClassFixture<ServerFactory>
{
    private readonly HttpClient _client;

    public BadInputTests(ServerFactory factory) => _client = factory.CreateClient();

    public static TheoryData<string, int, string?> Cases() => new()
    {
        { "{\"model\": \"tiny\", \"prompt\": ", 400, null },
        { "[1, 2, 3]", 400, null },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"temperature\": \"hot\"}", 400, "temperature" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"temperature\": 2.5}", 400, "temperature" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"top_p\": 1.5}", 400, "top_p" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"n\": 0}", 400, "n" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"logprobs\": 6}", 400, "logprobs" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"max_tokens\": -1}", 400, "max_tokens" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"stop\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400, "stop" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"stop\": 7}", 400, "stop" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"presence_penalty\": 3}", 400, "presence_penalty" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"logit_bias\": {\"99999999\": 1}}", 400, "logit_bias" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"logit_bias\": {\"5\": 101}}", 400, "logit_bias" },
        { "{\"model\": \"tiny\", \"prompt\": [1, -5]}", 400, "prompt" },
        { "{\"model\": \"tiny\", \"prompt\": [1, 50257]}", 400, "prompt" },
        { "{\"model\": \"tiny\", \"prompt\": {\"text\": \"x\"}}", 400, "prompt" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"suffix\": \"y\"}", 400, "suffix" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"stream_options\": {\"include_usage\": true}}", 400, "stream_options" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"n\": 3, \"best_of\": 2}", 400, "best_of" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"seed\": \"abc\"}", 400, "seed" },
        { "{\"model\": \"tiny\", \"prompt\": \"x\", \"max_tokens\": 500}", 400, "max_tokens" },
        { "{\"model\": \"gpt-5\", \"prompt\": \"x\"}", 404, "model" },
        { "{\"model\": 7, \"prompt\": \"x\"}", 400, "model" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task CompletionsRejectsWithOpenAiErrors(string body, int status, string? param)
    {
        HttpResponseMessage response = await _client.Post("/v1/completions", body);
        Assert.Equal(status, (int)response.StatusCode);
        JsonElement error = (await response.Json()).GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        Assert.True(error.TryGetProperty("code", out _));
        if (param != null)
        {
            Assert.Equal(param, error.GetProperty("param").GetString());
        }
    }

    [Fact]
    public async Task PromptsLongerThanTheContextAreRejectedWithTheLimits()
    {
        string prompt = string.Join(' ', Enumerable.Repeat("word", TinyModel.Context + 10));
        HttpResponseMessage response = await _client.Post("/v1/completions", new { model = "tiny", prompt });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        JsonElement error = (await response.Json()).GetProperty("error");
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Contains($"maximum context length is {TinyModel.Context}", error.GetProperty("message").GetString());
    }

    [Fact]
    public async Task OversizedBodiesGet413()
    {
        string prompt = new('x', 2 << 20);
        HttpResponseMessage response = await _client.Post("/v1/completions", JsonSerializer.Serialize(new { model = "tiny", prompt }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", (await response.Json()).GetProperty("error").GetProperty("code").GetString());
    }

    [Theory]
    [InlineData("{\"model\": \"tiny\"}", "messages")]
    [InlineData("{\"model\": \"tiny\", \"messages\": []}", "messages")]
    [InlineData("{\"model\": \"tiny\", \"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}", "messages[0].role")]
    [InlineData("{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image_url\"}]}]}", "messages[0].content")]
    [InlineData("{\"model\": \"tiny\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": []}", "tools")]
    public async Task ChatRejectsWithOpenAiErrors(string body, string param)
    {
        HttpResponseMessage response = await _client.Post("/v1/chat/completions", body);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, (await response.Json()).GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task UnknownEndpointsAre404InTheSameShape()
    {
        HttpResponseMessage response = await _client.Post("/v1/edits", "{}");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.True((await response.Json()).TryGetProperty("error", out _));
    }
}
