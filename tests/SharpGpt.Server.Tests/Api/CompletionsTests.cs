using System.Net;
using System.Text.Json;
using SharpGpt.Evaluation.Scoring;
using SharpGpt.Inference;
using SharpGpt.Inference.Scoring;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Tokenization;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Server.Tests.Api;

public class CompletionsTests : IClassFixture<ServerFactory>
{
    private readonly ServerFactory _factory;
    private readonly HttpClient _client;

    public CompletionsTests(ServerFactory factory)
    {
        _factory = factory;
        _client = factory.CreateClient();
    }

    [Fact]
    public async Task ResponseHasOpenAisShape()
    {
        HttpResponseMessage response = await _client.Post("/v1/completions", new { model = "tiny", prompt = "Hello world", max_tokens = 5, seed = 1 });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        JsonElement body = await response.Json();
        Assert.StartsWith("cmpl-", body.GetProperty("id").GetString());
        Assert.Equal("text_completion", body.GetProperty("object").GetString());
        Assert.Equal("tiny", body.GetProperty("model").GetString());
        Assert.True(body.GetProperty("created").GetInt64() > 1_700_000_000);
        Assert.StartsWith("fp_", body.GetProperty("system_fingerprint").GetString());
        JsonElement choice = body.GetProperty("choices")[0];
        Assert.Equal(0, choice.GetProperty("index").GetInt32());
        Assert.Equal(JsonValueKind.Null, choice.GetProperty("logprobs").ValueKind);
        Assert.Contains(choice.GetProperty("finish_reason").GetString(), new[] { "length", "stop" });
        JsonElement usage = body.GetProperty("usage");
        int prompt = Gpt2Tokenizer.Default.Encode("Hello world").Length;
        Assert.Equal(prompt, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(prompt + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
    }

    [Fact]
    public async Task AllFourPromptFormsAndNGiveIndexedChoices()
    {
        int[] ids = Gpt2Tokenizer.Default.Encode("The cat");
        foreach (object prompt in new object[] { "The cat", new[] { "The cat", "A dog" }, ids, new[] { ids, Gpt2Tokenizer.Default.Encode("A dog") } })
        {
            JsonElement body = await (await _client.Post("/v1/completions", new { model = "tiny", prompt, max_tokens = 3, n = 2, seed = 3 })).Json();
            int prompts = prompt is string or int[] ? 1 : 2;
            JsonElement choices = body.GetProperty("choices");
            Assert.Equal(prompts * 2, choices.GetArrayLength());
            Assert.Equal(Enumerable.Range(0, prompts * 2), choices.EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        }
    }

    [Fact]
    public async Task EchoWithLogprobsServesLogLikelihoodScoringLikeScoreAndTheEvalHarness()
    {
        // lm-evaluation-harness sends token ids with max_tokens 1 (or 0), temperature 0, logprobs 1, echo true.
        int[] ids = Gpt2Tokenizer.Default.Encode("The quick brown fox jumps over the lazy dog");
        foreach (int maxTokens in new[] { 0, 1 })
        {
            JsonElement body = await (await _client.Post("/v1/completions", new { model = "tiny", prompt = ids, max_tokens = maxTokens, temperature = 0, logprobs = 1, echo = true })).Json();
            JsonElement logprobs = body.GetProperty("choices")[0].GetProperty("logprobs");
            double?[] served = logprobs.GetProperty("token_logprobs").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.Null ? (double?)null : v.GetDouble()).ToArray();
            Assert.Equal(ids.Length + maxTokens, served.Length);
            Assert.Null(served[0]);
            Assert.Equal(ids.Length + maxTokens, logprobs.GetProperty("text_offset").GetArrayLength());
            Assert.Equal(0, logprobs.GetProperty("text_offset")[0].GetInt32());
            Assert.Single(logprobs.GetProperty("top_logprobs")[1].EnumerateObject());

            // The same numbers from `sharpgpt score`'s path and from the evaluation harness's scorer.
            using LanguageModel model = LanguageModel.Load(TinyModel.Path);
            using var session = new InferenceSession(model.Model, slots: 3);
            double?[] scored = TokenScorer.ScoreSequence(session, 0, ids);
            ChoiceScore harness = new LoglikelihoodScorer(session, model.Tokenizer).ScoreTokens(ids[..3], [ids[3..]])[0];
            for (int i = 1; i < ids.Length; i++)
            {
                Assert.Equal(scored[i]!.Value, served[i]!.Value, 12);
            }
            Assert.Equal(served.Skip(3).Take(ids.Length - 3).Sum(v => v!.Value), harness.LogLikelihood, 4);
        }
    }

    [Fact]
    public async Task StopSequencesCutTheTextAndReportStop()
    {
        JsonElement free = await (await _client.Post("/v1/completions", new { model = "tiny", prompt = "Once upon", max_tokens = 12, temperature = 0 })).Json();
        string text = free.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.True(text.Length >= 6, text);
        string stop = text.Substring(3, 3);
        JsonElement body = await (await _client.Post("/v1/completions", new { model = "tiny", prompt = "Once upon", max_tokens = 12, temperature = 0, stop = new[] { stop, "zzzz" } })).Json();
        JsonElement choice = body.GetProperty("choices")[0];
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], choice.GetProperty("text").GetString());
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
    }

    [Fact]
    public async Task StreamingGivesTheSameTextAsOneResponseAndUsageAtTheEnd()
    {
        var request = new { model = "tiny", prompt = "In the beginning", max_tokens = 10, seed = 9, temperature = 1.2, logprobs = 2 };
        JsonElement whole = await (await _client.Post("/v1/completions", request)).Json();
        HttpResponseMessage response = await _client.Post("/v1/completions", new
        {
            request.model, request.prompt, request.max_tokens, request.seed, request.temperature, request.logprobs, stream = true,
            stream_options = new { include_usage = true },
        });
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        List<JsonElement> events = await response.Events();
        JsonElement usage = events[^1].GetProperty("usage");
        Assert.Equal(0, events[^1].GetProperty("choices").GetArrayLength());
        var chunks = events.SkipLast(1).Select(e => e.GetProperty("choices")[0]).ToList();
        Assert.Equal(whole.GetProperty("choices")[0].GetProperty("text").GetString(), string.Concat(chunks.Select(c => c.GetProperty("text").GetString())));
        Assert.Equal(10, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal("length", chunks[^1].GetProperty("finish_reason").GetString());
        Assert.All(chunks, c => Assert.Equal(2, c.GetProperty("logprobs").GetProperty("top_logprobs")[0].EnumerateObject().Count()));
    }

    [Fact]
    public async Task SameSeedSameTextDifferentSeedDifferentText()
    {
        async Task<string> Generate(int seed) =>
            (await (await _client.Post("/v1/completions", new { model = "tiny", prompt = "Seeded", max_tokens = 12, seed, temperature = 1.5 })).Json())
            .GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Equal(await Generate(5), await Generate(5));
        var texts = new HashSet<string> { await Generate(5), await Generate(6), await Generate(7) };
        Assert.True(texts.Count > 1);
    }

    [Fact]
    public async Task BestOfReturnsNOfTheCandidatesAndCountsAllTokens()
    {
        JsonElement body = await (await _client.Post("/v1/completions", new { model = "tiny", prompt = "Pick", max_tokens = 4, n = 1, best_of = 3, seed = 1 })).Json();
        Assert.Equal(1, body.GetProperty("choices").GetArrayLength());
        Assert.Equal(12, body.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        HttpResponseMessage stream = await _client.Post("/v1/completions", new { model = "tiny", prompt = "Pick", best_of = 2, stream = true });
        Assert.Equal(HttpStatusCode.BadRequest, stream.StatusCode);
        Assert.Equal("best_of", (await stream.Json()).GetProperty("error").GetProperty("param").GetString());
    }
}
