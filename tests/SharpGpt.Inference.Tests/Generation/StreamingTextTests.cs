using SharpGpt.Inference.Generation;
using SharpGpt.Model.Tokenization;
using Xunit;

namespace SharpGpt.Inference.Tests.Generation;

public class StreamingTextTests
{
    [Fact]
    public void StopSequencesAreHeldBackAndCut()
    {
        var matcher = new StopSequenceMatcher(["\n\n", "END"]);
        Assert.Equal("Hello", matcher.Push("Hello"));
        Assert.Equal(" wor", matcher.Push(" wor\n"));   // "\n" might start "\n\n"
        Assert.Equal("\nld ", matcher.Push("ld EN"));  // "EN" might start "END"
        Assert.False(matcher.Stopped);
        Assert.Equal("", matcher.Push("D!"));
        Assert.True(matcher.Stopped);
    }

    [Fact]
    public void StopSpanningPushesIsFoundAndDropped()
    {
        var matcher = new StopSequenceMatcher(["<stop>"]);
        string emitted = matcher.Push("abc<st") + matcher.Push("op>def");
        Assert.True(matcher.Stopped);
        Assert.Equal("abc", emitted);
        Assert.Equal("", matcher.Push("more"));
        Assert.Equal("", matcher.Flush());
    }

    [Fact]
    public void HeldTextIsReleasedAtTheEnd()
    {
        var matcher = new StopSequenceMatcher(["xyz"]);
        Assert.Equal("ab", matcher.Push("abxy"));
        Assert.Equal("xy", matcher.Flush());
        Assert.Equal("plain", new StopSequenceMatcher([]).Push("plain"));
    }

    [Fact]
    public void MultiByteCharactersSplitAcrossTokensComeOutWhole()
    {
        Gpt2Tokenizer tokenizer = Gpt2Tokenizer.Default;
        const string text = "A 🦙 and 日本";
        int[] ids = tokenizer.Encode(text);
        var decoder = new IncrementalDecoder(tokenizer);
        var pieces = ids.Select(decoder.Push).ToList();
        Assert.Equal(text, string.Concat(pieces) + decoder.Flush());
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD'));
        // The llama emoji takes several byte-level tokens: some pushes emit nothing.
        Assert.Contains("", pieces);
    }
}
