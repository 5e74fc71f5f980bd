using SharpGpt.Inference.Generation;
using SharpGpt.Inference.Sampling;
using SharpGpt.Model.Inference;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Inference.Tests.Generation;

public class TextGeneratorTests
{
    private static LanguageModel TinyGpt2() => LanguageModel.Load(TestData.Path("fixtures", "tiny-gpt2"));

    [Fact]
    public void GreedyGenerationReproducesThePyTorchContinuation()
    {
        using LanguageModel model = TinyGpt2();
        Assert.Null(model.Tokenizer); // vocab 512: token ids only
        using var session = new InferenceSession(model.Model, slots: 1, maxTokensPerStep: 5);
        var options = new GenerationOptions { MaxTokens = 8, Sampling = SamplingOptions.Greedy, StopAtEndOfText = false };
        var events = new TextGenerator(model).Generate(session, 0, [445, 347, 263, 375, 24, 400, 92, 58], options).ToList();
        Assert.Equal([475, 475, 475, 475, 280, 441, 441, 441], events.Select(e => e.Token));
        Assert.All(events.SkipLast(1), e => Assert.Null(e.Finish));
        Assert.Equal(FinishReason.Length, events[^1].Finish);
        Assert.All(events, e => Assert.True(e.Logprob < 0));
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndStopsAtEndOfText()
    {
        using LanguageModel model = TinyGpt2();
        using var session = new InferenceSession(model.Model, slots: 1);
        var generator = new TextGenerator(model);
        var options = new GenerationOptions { MaxTokens = 30, Sampling = new SamplingOptions { Temperature = 1.5f, Seed = 11 }, TopLogprobs = 3 };
        int[] first = generator.Generate(session, 0, [1, 2, 3], options).Select(e => e.Token).ToArray();
        int[] second = generator.Generate(session, 0, [1, 2, 3], options).Select(e => e.Token).ToArray();
        Assert.Equal(first, second);
        // Force <|endoftext|> (511 in this model) to be certain: generation stops with "stop" at once.
        var eos = options with { Sampling = new SamplingOptions { Temperature = 1, Seed = 1, LogitBias = new Dictionary<int, float> { [511] = 100 } } };
        var events = generator.Generate(session, 0, [1, 2, 3], eos).ToList();
        Assert.Single(events);
        Assert.Equal(FinishReason.Stop, events[0].Finish);
        Assert.Equal(3, events[0].TopLogprobs!.Count);
    }

    [Fact]
    public void PromptsThatFillTheContextAreRejected()
    {
        using LanguageModel model = TinyGpt2();
        using var session = new InferenceSession(model.Model, slots: 1, maxContext: 10);
        var generator = new TextGenerator(model);
        Assert.Throws<SharpGpt.Model.SharpGptException>(() => generator.Generate(session, 0, new int[10], new GenerationOptions()).ToList());
        // Generation ends with "length" when the context fills up before max_tokens.
        var events = generator.Generate(session, 0, new int[7], new GenerationOptions { MaxTokens = 50, StopAtEndOfText = false }).ToList();
        Assert.Equal(3, events.Count);
        Assert.Equal(FinishReason.Length, events[^1].Finish);
    }
}
