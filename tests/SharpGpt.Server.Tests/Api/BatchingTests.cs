using System.Net;
using System.Text.Json;
using SharpGpt.Model.Tokenization;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Server.Tests.Api;

/// <summary>Continuous batching: outputs independent of load, cancellation frees slots, and a full queue answers 429.</summary>
public class BatchingTests
{
    private static async Task<string> Text(HttpClient client, object request) =>
        (await (await client.Post("/v1/completions", request)).Json()).GetProperty("choices")[0].GetProperty("text").GetString()!;

    [Fact]
    public async Task SameSeedAndRequestGiveTheSameTokensAloneAndUnderLoad()
    {
        using var factory = new ServerFactory();
        HttpClient client = factory.CreateClient();
        var probe = new { model = "tiny", prompt = "The probe request", max_tokens = 24, seed = 77, temperature = 1.0, top_p = 0.9 };
        string alone = await Text(client, probe);

        // Now with other sequences in every step: short and long prompts, prefill chunks, different lengths.
        var others = Enumerable.Range(0, 7).Select(i => Text(client, new
        {
            model = "tiny",
            prompt = string.Join(' ', Enumerable.Repeat($"noise{i}", 5 + 7 * i)),
            max_tokens = 5 + 4 * i,
            seed = i,
        })).ToList();
        string underLoad = await Text(client, probe);
        await Task.WhenAll(others);
        Assert.Equal(alone, underLoad);
    }

    [Fact]
    public async Task ClientDisconnectMidStreamFreesTheSlot()
    {
        // The built-in model with end-of-text banned: 400 tokens take most of a second, so the stream is surely still
        // running when the client leaves (the tiny model once finished its 100 tokens before the cancel arrived).
        string builtIn = Path.Combine(TestData.RepositoryRoot, "models", "sharpgpt-default");
        using var factory = new ServerFactory(new Dictionary<string, string> { ["SharpGpt:Models:0"] = "builtin=" + builtIn });
        HttpClient client = factory.CreateClient();
        using var cancel = new CancellationTokenSource();
        var body = new Dictionary<string, object>
        {
            ["model"] = "builtin", ["prompt"] = "Stream then leave", ["max_tokens"] = 400, ["stream"] = true,
            ["logit_bias"] = new Dictionary<string, int> { ["50256"] = -100 },
        };
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent(JsonSerializer.Serialize(body), System.Text.Encoding.UTF8, "application/json"),
        };
        HttpResponseMessage response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel.Token);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancel.Token));
        string? first = await reader.ReadLineAsync(cancel.Token);
        Assert.StartsWith("data: ", first);
        Assert.Equal(1, factory.Statistics.ActiveSequences);
        cancel.Cancel();
        response.Dispose();
        await WaitUntil(() => factory.Statistics.ActiveSequences == 0);
        Assert.True(factory.Statistics.Cancelled >= 1, $"the stream was not cancelled ({factory.Statistics.Steps} steps ran)");
    }

    [Fact]
    public async Task ClientDisconnectDuringPrefillFreesTheSlot()
    {
        // The built-in model (19 M parameters) at 1 row per step: a 480-token prompt needs 480 prefill steps of a
        // few milliseconds each, so the client surely leaves while it is running (the tiny model prefills too fast).
        string builtIn = Path.Combine(TestData.RepositoryRoot, "models", "sharpgpt-default");
        using var factory = new ServerFactory(new Dictionary<string, string>
        {
            ["SharpGpt:Models:0"] = "builtin=" + builtIn,
            ["SharpGpt:MaxBatch"] = "1",
            ["SharpGpt:MaxTokensPerStep"] = "1",
        });
        HttpClient client = factory.CreateClient();
        int[] prompt = Enumerable.Range(0, 480).Select(i => 100 + i).ToArray();
        using var cancel = new CancellationTokenSource();
        Task<HttpResponseMessage> pending = client.Post("/v1/completions", new { model = "builtin", prompt, max_tokens = 4 }, cancel.Token);
        await WaitUntil(() => factory.Statistics.ActiveSequences == 1);
        long stepsBefore = factory.Statistics.Steps;
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        // The HttpClient of the test server aborts the request when its token fires.
        await WaitUntil(() => factory.Statistics.ActiveSequences == 0);
        long steps = factory.Statistics.Steps - stepsBefore;
        Assert.True(steps < 480, $"the prompt was prefilled to the end instead of being dropped ({steps} steps after the cancel, of {stepsBefore} before)");
    }

    [Fact]
    public async Task AFullQueueAnswers429WithRetryAfter()
    {
        using var factory = new ServerFactory(new Dictionary<string, string>
        {
            ["SharpGpt:MaxBatch"] = "1",
            ["SharpGpt:QueueLength"] = "0",
            ["SharpGpt:MaxTokensPerStep"] = "4",
        });
        HttpClient client = factory.CreateClient();
        Task<HttpResponseMessage> busy = client.Post("/v1/completions", new { model = "tiny", prompt = Enumerable.Range(0, 100).ToArray(), max_tokens = 20 });
        await WaitUntil(() => factory.Statistics.ActiveSequences == 1);
        HttpResponseMessage refused = await client.Post("/v1/completions", new { model = "tiny", prompt = "me too", max_tokens = 2 });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter!.ToString());
        Assert.Equal("rate_limit_exceeded", (await refused.Json()).GetProperty("error").GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await busy).StatusCode);
    }

    [Fact]
    public async Task RequestsBeyondTheTimeoutAreCancelled()
    {
        using var factory = new ServerFactory(new Dictionary<string, string> { ["SharpGpt:RequestTimeoutSeconds"] = "0.05", ["SharpGpt:MaxTokensPerStep"] = "4" });
        HttpClient client = factory.CreateClient();
        // 20 candidates × 100 tokens through 4 slots is hundreds of steps: far beyond 50 ms.
        HttpResponseMessage response = await client.Post("/v1/completions", new { model = "tiny", prompt = Enumerable.Range(0, 20).ToArray(), max_tokens = 100, best_of = 20, n = 1 });
        Assert.Equal(HttpStatusCode.RequestTimeout, response.StatusCode);
        Assert.Equal("timeout", (await response.Json()).GetProperty("error").GetProperty("code").GetString());
        await WaitUntil(() => factory.Statistics.ActiveSequences == 0 && factory.Statistics.QueueDepth == 0);
    }

    internal static async Task WaitUntil(Func<bool> condition, double seconds = 10)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("condition not reached");
            }
            await Task.Delay(5);
        }
    }
}
