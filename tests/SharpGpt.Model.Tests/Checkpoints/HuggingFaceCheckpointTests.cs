using System.Text.Json;
using System.Text.Json.Nodes;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Tokenization;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Checkpoints;

public sealed class HuggingFaceCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-hf").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static GptConfig Small(ModelFamily family) => family == ModelFamily.Gpt2
        ? new GptConfig { Name = "t", Family = family, VocabSize = 97, ContextLength = 24, EmbeddingSize = 16, LayerCount = 2, HeadCount = 2, FeedForwardSize = 40, EndOfTextTokenId = 96 }
        : new GptConfig
        {
            Name = "t", Family = family, VocabSize = 97, ContextLength = 24, EmbeddingSize = 16, LayerCount = 2, HeadCount = 2, FeedForwardSize = 64,
            AttentionLayers = [AttentionKind.Global, AttentionKind.Local], WindowSize = 5, ScaleAttention = false, QkvBias = false, EndOfTextTokenId = 96,
        };

    [Theory]
    [InlineData(ModelFamily.Gpt2, SafetensorsDType.F32)]
    [InlineData(ModelFamily.GptNeo, SafetensorsDType.F32)]
    [InlineData(ModelFamily.Gpt2, SafetensorsDType.BF16)]
    [InlineData(ModelFamily.GptNeo, SafetensorsDType.F16)]
    public void SaveThenLoadGivesTheSameModel(ModelFamily family, SafetensorsDType dtype)
    {
        using GptModel model = new(Small(family));
        model.InitializeGpt2(new Rng(5));
        HfModelSaver.Save(model, _dir, Gpt2Tokenizer.Default, dtype);
        Assert.True(File.Exists(Path.Combine(_dir, "vocab.json")));
        LoadedModel loaded = HfModelLoader.Load(_dir);
        using GptModel back = loaded.Model;
        Assert.Empty(loaded.Warnings);
        Assert.Equal(ConfigJson.Serialize(model.Config with { Name = back.Config.Name }), ConfigJson.Serialize(back.Config));
        double tolerance = dtype == SafetensorsDType.F32 ? 0 : dtype == SafetensorsDType.F16 ? 1e-3 : 4e-3;
        foreach (ParameterTensor tensor in model.Layout.Tensors)
        {
            NumericAssert.Close(model.Tensor(tensor.Name).ToArray(), back.Tensor(tensor.Name).ToArray(), 1e-7, tolerance, tensor.Name);
        }
    }

    [Fact]
    public void WritesTheHuggingFaceNamesAndLayouts()
    {
        using GptModel model = new(Small(ModelFamily.Gpt2));
        model.InitializeGpt2(new Rng(1));
        HfModelSaver.Save(model, _dir);
        using SafetensorsFile file = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"));
        Assert.Equal([16L, 48], file.Entry("transformer.h.0.attn.c_attn.weight").Shape); // Conv1D [in, out]
        Assert.Equal([16L, 40], file.Entry("transformer.h.1.mlp.c_fc.weight").Shape);
        Assert.False(file.Tensors.ContainsKey("lm_head.weight"));
        JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!.AsObject();
        Assert.Equal("gpt2", config["model_type"]!.GetValue<string>());
        Assert.Equal(40, config["n_inner"]!.GetValue<int>());

        using GptModel neo = new(Small(ModelFamily.GptNeo));
        HfModelSaver.Save(neo, _dir);
        using SafetensorsFile neoFile = SafetensorsFile.Open(Path.Combine(_dir, "model.safetensors"));
        Assert.Equal([16L, 16], neoFile.Entry("transformer.h.0.attn.attention.q_proj.weight").Shape);
        Assert.Equal([64L, 16], neoFile.Entry("transformer.h.0.mlp.c_fc.weight").Shape); // nn.Linear [out, in]
        JsonObject neoConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!.AsObject();
        Assert.Equal("[[[\"global\",\"local\"],1]]", neoConfig["attention_types"]!.ToJsonString());
    }

    [Fact]
    public void LoadsShardedCheckpointsAndBareGpt2Names()
    {
        // Re-shard the tiny-gpt2 fixture into two files with an index, dropping the "transformer." prefix
        // (as the original GPT-2 uploads do) and adding an attention-mask buffer that must be ignored.
        string source = TestData.Path("fixtures", "tiny-gpt2");
        using SafetensorsFile original = SafetensorsFile.Open(Path.Combine(source, "model.safetensors"));
        var names = original.Tensors.Keys.Order().ToArray();
        var weightMap = new Dictionary<string, string>();
        for (int shard = 0; shard < 2; shard++)
        {
            string file = $"model-0000{shard + 1}-of-00002.safetensors";
            var sources = names.Where((_, i) => i % 2 == shard).Select(name =>
            {
                SafetensorsEntry entry = original.Entry(name);
                string bare = name.Replace("transformer.", "");
                weightMap[bare] = file;
                float[] values = new float[entry.ElementCount];
                original.ReadFloat32(entry, values);
                return SafetensorsTensorSource.FromArray(bare, entry.Shape, values);
            }).ToList();
            if (shard == 0)
            {
                sources.Add(new SafetensorsTensorSource("h.0.attn.bias", [1, 1, 4, 4], (_, s) => s.Fill(1f)));
            }
            SafetensorsWriter.Write(Path.Combine(_dir, file), sources, SafetensorsDType.BF16);
        }
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), JsonSerializer.Serialize(new { metadata = new { }, weight_map = weightMap }));
        File.Copy(Path.Combine(source, "config.json"), Path.Combine(_dir, "config.json"));
        LoadedModel loaded = HfModelLoader.Load(_dir);
        using GptModel sharded = loaded.Model;
        Assert.Empty(loaded.Warnings);
        using GptModel reference = HfModelLoader.Load(source).Model;
        // BF16 storage: each weight within 2⁻⁹ relative.
        NumericAssert.Close(reference.Tensor("h.1.mlp.fc.weight").ToArray(), sharded.Tensor("h.1.mlp.fc.weight").ToArray(), 1e-7, 4e-3, "sharded weights");
    }

    private void WriteConfig(object config) => File.WriteAllText(Path.Combine(_dir, "config.json"), JsonSerializer.Serialize(config));

    [Fact]
    public void BadFoldersGetErrorsThatNameTheFileAndTensor()
    {
        Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(Path.Combine(_dir, "nope"))).Message);
        Assert.Contains("config.json not found", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir)).Message);

        WriteConfig(new { model_type = "llama", hidden_size = 16 });
        Assert.Contains("unsupported architecture 'llama'", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir)).Message);

        WriteConfig(new { model_type = "gpt2", n_embd = "sixteen" });
        Assert.Contains("n_embd", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir)).Message);

        WriteConfig(new { model_type = "gpt2", vocab_size = 97, n_positions = 24, n_embd = 16, n_layer = 2, n_head = 2, eos_token_id = 96 });
        File.WriteAllText(Path.Combine(_dir, "pytorch_model.bin"), "pickle");
        Assert.Contains("only safetensors", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir)).Message);

        // A checkpoint with one tensor missing, then one with a wrong shape.
        using GptModel model = new(Small(ModelFamily.Gpt2) with { FeedForwardSize = 64 });
        HfModelSaver.Save(model, _dir);
        string weights = Path.Combine(_dir, "model.safetensors");
        Rewrite(weights, drop: "transformer.h.1.mlp.c_proj.bias");
        var ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir));
        Assert.Contains("transformer.h.1.mlp.c_proj.bias", ex.Message);
        Assert.Contains("missing", ex.Message);

        HfModelSaver.Save(model, _dir);
        Rewrite(weights, reshape: ("transformer.h.0.attn.c_proj.weight", [8, 32]));
        ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir));
        Assert.Contains("transformer.h.0.attn.c_proj.weight", ex.Message);
        Assert.Contains("[8, 32]", ex.Message);
        Assert.Contains(weights, ex.Message);

        HfModelSaver.Save(model, _dir);
        Rewrite(weights, poison: "transformer.wpe.weight");
        ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir));
        Assert.Contains("NaN", ex.Message);
        Assert.Contains("transformer.wpe.weight", ex.Message);
    }

    [Fact]
    public void ShardIndexCannotEscapeTheFolder()
    {
        WriteConfig(new { model_type = "gpt2", vocab_size = 97, n_positions = 24, n_embd = 16, n_layer = 2, n_head = 2, eos_token_id = 96 });
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), "{\"weight_map\":{\"wte.weight\":\"../../etc/passwd\"}}");
        Assert.Contains("invalid shard name", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(_dir)).Message);
    }

    [Fact]
    public void ExportedGptNeoComputesTheSameLogits()
    {
        Parity.Fixture fixture = new("tiny-gptneo");
        using GptModel model = fixture.LoadModel();
        HfModelSaver.Save(model, _dir, Gpt2Tokenizer.Default);
        using GptModel back = HfModelLoader.Load(_dir).Model;
        using TrainingGraph a = new(model, fixture.Batch, fixture.Time), b = new(back, fixture.Batch, fixture.Time);
        a.ForwardLogits(fixture.FlatInputs, fixture.Batch, fixture.Time);
        b.ForwardLogits(fixture.FlatInputs, fixture.Batch, fixture.Time);
        Assert.Equal(a.Logits(5).ToArray(), b.Logits(5).ToArray());
    }

    /// <summary>Rewrites a safetensors file with one tensor dropped, reshaped or filled with NaN.</summary>
    private static void Rewrite(string path, string? drop = null, (string Name, long[] Shape)? reshape = null, string? poison = null)
    {
        List<(string Name, long[] Shape, float[] Values)> tensors;
        using (SafetensorsFile file = SafetensorsFile.Open(path))
        {
            tensors = file.Tensors.Values.Select(e =>
            {
                float[] values = new float[e.ElementCount];
                file.ReadFloat32(e, values);
                return (e.Name, e.Shape, values);
            }).ToList();
        }
        var sources = tensors.Where(t => t.Name != drop).Select(t => new SafetensorsTensorSource(
            t.Name,
            reshape is { } r && r.Name == t.Name ? r.Shape : t.Shape,
            (start, s) => { t.Values.AsSpan((int)start, s.Length).CopyTo(s); if (t.Name == poison) { s[3] = float.NaN; } })).ToList();
        SafetensorsWriter.Write(path, sources);
    }
}
