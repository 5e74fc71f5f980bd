using SharpGpt.Model.Tokenization;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Tokenization;

public class Gpt2TokenizerTests
{
    private static readonly Gpt2Tokenizer Tokenizer = Gpt2Tokenizer.Default;

    /// <summary>llama.cpp's GPT-2 vocabulary tests: cases separated by "\n__ggml_vocab_test__\n", one id line each.</summary>
    public static IEnumerable<object[]> GoldenCases()
    {
        string inputs = File.ReadAllText(TestData.Path("models", "gpt2-tokenizer", "tokenizer-tests.inp"));
        string[] outputs = File.ReadAllText(TestData.Path("models", "gpt2-tokenizer", "tokenizer-tests.out")).Split('\n');
        string[] cases = inputs.Split("\n__ggml_vocab_test__\n");
        for (int i = 0; i < cases.Length; i++)
        {
            if (i == cases.Length - 1 && cases[i].Length == 0)
            {
                break;
            }
            yield return [i, cases[i], outputs[i].Trim()];
        }
    }

    [Fact]
    public void ThereAre46GoldenCases() => Assert.Equal(46, GoldenCases().Count());

    [Theory]
    [MemberData(nameof(GoldenCases))]
    public void EncodesLikeGpt2(int index, string text, string expectedIds)
    {
        int[] expected = expectedIds.Length == 0 ? [] : expectedIds.Split(' ').Select(int.Parse).ToArray();
        int[] ids = Tokenizer.Encode(text);
        Assert.True(expected.SequenceEqual(ids), $"case {index}: got {string.Join(' ', ids)}, expected {expectedIds}");
        Assert.Equal(text, Tokenizer.Decode(ids));
    }

    [Theory]
    [InlineData("Hello, world! 👋🏽 Ça va? 日本語のテキスト")]
    [InlineData("   multiple   spaces\t\ttabs\n\n\nnewlines  ")]
    [InlineData("control \u0000\u0001\u0007\u001b[31m chars \u007f")]
    [InlineData("emoji zwj 👩‍👩‍👧‍👦 flags 🇫🇷🇯🇵 math 𝔸𝔹ℂ")]
    [InlineData("<|endoftext|> in the middle <|endoftext|>")]
    [InlineData("")]
    [InlineData("a")]
    [InlineData("\u00a0non-breaking\u2028line\u2029separators\ufeff")]
    public void RoundTripsLosslessly(string text) => Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text)));

    [Fact]
    public void RoundTripsRandomUnicode()
    {
        var rng = new SharpGpt.Tensors.Random.Rng(99);
        for (int trial = 0; trial < 200; trial++)
        {
            var builder = new System.Text.StringBuilder();
            int length = rng.NextInt(40);
            for (int i = 0; i < length; i++)
            {
                int codePoint;
                do
                {
                    codePoint = rng.NextInt(4) switch
                    {
                        0 => rng.NextInt(128),
                        1 => rng.NextInt(0x800),
                        2 => rng.NextInt(0x10000),
                        _ => rng.NextInt(0x110000),
                    };
                }
                while (codePoint is >= 0xD800 and <= 0xDFFF);
                builder.Append(char.ConvertFromUtf32(codePoint));
            }
            string text = builder.ToString();
            Assert.Equal(text, Tokenizer.Decode(Tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void KnowsTheGpt2Specials()
    {
        Assert.Equal(50257, Tokenizer.VocabSize);
        Assert.Equal(50256, Tokenizer.EndOfTextId);
        Assert.Equal([50256], Tokenizer.Encode("<|endoftext|>"));
        Assert.Equal("<|endoftext|>", Tokenizer.TokenText(50256));
    }

    [Fact]
    public void LoadsEveryFileFormatIdentically()
    {
        string dir = Directory.CreateTempSubdirectory("sharpgpt-tok").FullName;
        try
        {
            Tokenizer.Save(dir, 1024);
            Gpt2Tokenizer fromHf = Gpt2Tokenizer.FromDirectory(dir);
            File.Move(Path.Combine(dir, "vocab.json"), Path.Combine(dir, "encoder.json"));
            File.Move(Path.Combine(dir, "merges.txt"), Path.Combine(dir, "vocab.bpe"));
            Gpt2Tokenizer fromOpenAi = Gpt2Tokenizer.FromDirectory(dir);
            // A tokenizer.json in the Hugging Face "fast" layout, merges as arrays.
            var vocab = System.Text.Json.JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(Path.Combine(dir, "encoder.json")))!;
            var merges = File.ReadAllLines(Path.Combine(dir, "vocab.bpe")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split(' ')).ToArray();
            var json = new { model = new { type = "BPE", vocab, merges }, added_tokens = new[] { new { id = 50256, content = "<|endoftext|>" } } };
            Directory.Delete(dir, true);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), System.Text.Json.JsonSerializer.Serialize(json));
            Gpt2Tokenizer fromTokenizerJson = Gpt2Tokenizer.FromDirectory(dir);
            const string text = "Hello world, it's 2026 and 🦙s are everywhere.";
            int[] expected = Tokenizer.Encode(text);
            Assert.Equal(expected, fromHf.Encode(text));
            Assert.Equal(expected, fromOpenAi.Encode(text));
            Assert.Equal(expected, fromTokenizerJson.Encode(text));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void MissingOrBrokenFilesGetClearErrors()
    {
        string dir = Directory.CreateTempSubdirectory("sharpgpt-tok").FullName;
        try
        {
            var ex = Assert.Throws<SharpGpt.Model.Checkpoints.CheckpointException>(() => Gpt2Tokenizer.FromDirectory(dir));
            Assert.Contains("no tokenizer files", ex.Message);
            File.WriteAllText(Path.Combine(dir, "vocab.json"), "{not json");
            File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n");
            ex = Assert.Throws<SharpGpt.Model.Checkpoints.CheckpointException>(() => Gpt2Tokenizer.FromDirectory(dir));
            Assert.Contains("vocab.json", ex.Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
