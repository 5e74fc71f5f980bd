using Xunit;

namespace SharpGpt.Model.Tests;

public class PresetTests
{
    /// <summary>Brown et al. 2020, Table 2.1 (reference.md): preset → published parameter count.</summary>
    public static TheoryData<string, double> Gpt3Sizes() => new()
    {
        { "gpt3-small", 125e6 },
        { "gpt3-medium", 350e6 },
        { "gpt3-large", 760e6 },
        { "gpt3-xl", 1.3e9 },
        { "gpt3-2.7b", 2.7e9 },
        { "gpt3-6.7b", 6.7e9 },
        { "gpt3-13b", 13.0e9 },
        { "gpt3-175b", 175.0e9 },
    };

    /// <summary>The bar: every GPT-3 count within 2% of the paper (which rounds to 2–3 significant digits).</summary>
    private const double PaperTolerance = 0.02;

    [Theory]
    [MemberData(nameof(Gpt3Sizes))]
    public void Gpt3CountsMatchTable21(string preset, double published)
    {
        GptConfig config = GptPresets.Get(preset);
        long count = ParameterLayout.CountParameters(config);
        Assert.InRange(count / published, 1 - PaperTolerance, 1 + PaperTolerance);
        Assert.Equal(2048, config.ContextLength);
        Assert.Equal(50257, config.VocabSize);
        Assert.Equal(4 * config.EmbeddingSize, config.FeedForwardSize);
        // Dense and banded layers alternate.
        for (int l = 0; l < config.LayerCount; l++)
        {
            Assert.Equal(l % 2 == 0 ? AttentionKind.Global : AttentionKind.Local, config.AttentionKindOf(l));
        }
    }

    [Theory]
    [InlineData("gpt2", 124_439_808L)]
    [InlineData("gpt2-medium", 354_823_168L)]
    [InlineData("gpt2-large", 774_030_080L)]
    [InlineData("gpt2-xl", 1_557_611_200L)]
    [InlineData("gpt-neo-125m", 125_198_592L)]
    [InlineData("gpt-neo-1.3b", 1_315_575_808L)]
    [InlineData("gpt-neo-2.7b", 2_651_307_520L)]
    public void OpenModelCountsMatchHuggingFace(string preset, long huggingFaceCount)
    {
        // Counts as reported by transformers' model.num_parameters() for the released checkpoints.
        Assert.Equal(huggingFaceCount, ParameterLayout.CountParameters(GptPresets.Get(preset)));
    }

    [Fact]
    public void GptNeoPresetsFollowHuggingFaceConventions()
    {
        GptConfig neo = GptPresets.Get("gpt-neo-125m");
        Assert.Equal(ModelFamily.GptNeo, neo.Family);
        Assert.Equal(256, neo.WindowSize);
        Assert.False(neo.QkvBias);
        Assert.Equal(1f, neo.AttentionScaleOf(0));
        Assert.Equal(0, neo.WindowOf(0));
        Assert.Equal(256, neo.WindowOf(1));
        GptConfig gpt2 = GptPresets.Get("GPT2");
        Assert.Equal(1f / 8f, gpt2.AttentionScaleOf(0));
        Assert.True(gpt2.QkvBias);
    }

    [Fact]
    public void UnknownPresetListsTheKnownOnes()
    {
        var ex = Assert.Throws<SharpGptException>(() => GptPresets.Get("gpt5"));
        Assert.Contains("gpt3-175b", ex.Message);
        Assert.Equal(15, GptPresets.Names.Count);
    }

    [Fact]
    public void InvalidConfigsNameTheProblem()
    {
        var ex = Assert.Throws<SharpGptException>(() => (GptPresets.Get("gpt2") with { HeadCount = 7 }).Validate());
        Assert.Contains("divisible", ex.Message);
        ex = Assert.Throws<SharpGptException>(() => (GptPresets.Get("gpt2") with { AttentionLayers = [AttentionKind.Local] }).Validate());
        Assert.Contains("attention layer kinds", ex.Message);
    }

    [Fact]
    public void ConfigJsonRoundTrips()
    {
        GptConfig config = GptPresets.Get("gpt-neo-125m");
        GptConfig back = ConfigJson.Deserialize(ConfigJson.Serialize(config), "test");
        Assert.Equal(ConfigJson.Serialize(config), ConfigJson.Serialize(back));
        Assert.Throws<SharpGptException>(() => ConfigJson.Deserialize("{\"layerCount\": \"twelve\"}", "bad.json"));
        Assert.Throws<SharpGptException>(() => ConfigJson.Deserialize("{\"layerCountt\": 12}", "typo.json"));
    }
}
