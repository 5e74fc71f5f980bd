using System.Text;
using Parquet.Serialization;
using SharpGpt.Model;
using SharpGpt.Model.Tokenization;
using SharpGpt.Training.Data;
using Xunit;

namespace SharpGpt.Training.Tests.Data;

public sealed class DataPreparerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-prep").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Write(string name, string content)
    {
        string path = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }

    private DatasetManifest Prepare(params string[] inputs) => new DataPreparer(Gpt2Tokenizer.Default).Prepare(new PrepareOptions
    {
        Inputs = inputs, Output = Path.Combine(_dir, "out"), ValidationFraction = 0, ValidationBlockTokens = 64,
    });

    public sealed record Row(string text);

    [Fact]
    public async Task PacksTextJsonlAndParquetDocumentsSeparatedByEndOfText()
    {
        string text = Write("corpus/a.txt", "Hello world.");
        string jsonl = Write("corpus/b.jsonl", "{\"text\": \"First line\"}\n\n{\"text\": \"Second\", \"id\": 2}\n");
        string parquet = Path.Combine(_dir, "corpus", "c.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new Row("From parquet"), new Row("Another row") }, parquet);
        Write("corpus/notes.bin", "ignored");
        DatasetManifest manifest = Prepare(Path.Combine(_dir, "corpus"));
        var tokenizer = Gpt2Tokenizer.Default;
        int[] expected =
        [
            .. tokenizer.Encode("Hello world."), 50256, .. tokenizer.Encode("First line"), 50256, .. tokenizer.Encode("Second"), 50256,
            .. tokenizer.Encode("From parquet"), 50256, .. tokenizer.Encode("Another row"), 50256,
        ];
        using var dataset = TokenDataset.Open(Path.Combine(_dir, "out"));
        int[] actual = new int[dataset.Train.Count];
        dataset.Train.Read(0, actual);
        Assert.Equal(expected, actual);
        Assert.Equal(2, manifest.BytesPerToken);
        Assert.Equal([1L, 2, 2], manifest.Sources.Select(s => s.Documents));
        Assert.Equal(64, manifest.Train.Shards[0].Sha256.Length);
        _ = text; _ = jsonl;
    }

    [Fact]
    public void SplitsBlocksDeterministicallyAndKeepsEveryToken()
    {
        string corpus = Write("big.txt", string.Concat(Enumerable.Range(0, 3000).Select(i => $"word{i % 97} ")));
        var options = new PrepareOptions { Inputs = [corpus], Output = Path.Combine(_dir, "split"), ValidationFraction = 0.2, ValidationBlockTokens = 128, Seed = 7 };
        DatasetManifest a = new DataPreparer(Gpt2Tokenizer.Default).Prepare(options);
        DatasetManifest b = new DataPreparer(Gpt2Tokenizer.Default).Prepare(options with { Output = Path.Combine(_dir, "split2") });
        long total = Gpt2Tokenizer.Default.Encode(File.ReadAllText(corpus)).Length + 1;
        Assert.Equal(total, a.Train.Tokens + a.Validation.Tokens);
        Assert.InRange(a.Validation.Tokens / (double)total, 0.05, 0.4);
        Assert.Equal(a.Train.Shards[0].Sha256, b.Train.Shards[0].Sha256);
    }

    [Fact]
    public async Task BadInputNamesTheFileAndLine()
    {
        string bad = Path.Combine(_dir, "latin1.txt");
        File.WriteAllBytes(bad, [.. "line one\nline two\nBrunet"u8.ToArray(), 0xE8, .. "re\n"u8.ToArray()]);
        var ex = Assert.Throws<SharpGptException>(() => Prepare(bad));
        Assert.Contains($"{bad}:3", ex.Message);
        Assert.Contains("UTF-8", ex.Message);

        string missing = Write("m.jsonl", "{\"text\": \"ok\"}\n{\"body\": \"no text field\"}\n");
        ex = Assert.Throws<SharpGptException>(() => Prepare(missing));
        Assert.Contains($"{missing}:2", ex.Message);
        Assert.Contains("\"text\"", ex.Message);

        string broken = Write("x.jsonl", "{\"text\": \"ok\"}\n{\"text\": \n");
        Assert.Contains($"{broken}:2", Assert.Throws<SharpGptException>(() => Prepare(broken)).Message);

        string number = Write("n.jsonl", "{\"text\": 42}\n");
        Assert.Contains("not a string", Assert.Throws<SharpGptException>(() => Prepare(number)).Message);

        Assert.Contains("does not exist", Assert.Throws<SharpGptException>(() => Prepare(Path.Combine(_dir, "nope.txt"))).Message);

        string parquet = Path.Combine(_dir, "wrong.parquet");
        await ParquetSerializer.SerializeAsync(new[] { new { body = "x" } }, parquet);
        ex = Assert.Throws<SharpGptException>(() => Prepare(parquet));
        Assert.Contains("no column \"text\"", ex.Message);
        Assert.Contains("body", ex.Message);
    }

    [Fact]
    public void CorruptShardsAreRejected()
    {
        string corpus = Write("s.txt", "some text to tokenize");
        Prepare(corpus);
        string shard = Path.Combine(_dir, "out", "train-0000.bin");
        byte[] bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^2]);
        var ex = Assert.Throws<SharpGptException>(() => TokenDataset.Open(Path.Combine(_dir, "out")));
        Assert.Contains("truncated", ex.Message);
        File.WriteAllBytes(shard, Encoding.ASCII.GetBytes("not a shard at all, definitely not"));
        Assert.Contains("bad magic", Assert.Throws<SharpGptException>(() => TokenDataset.Open(Path.Combine(_dir, "out"))).Message);
    }
}
