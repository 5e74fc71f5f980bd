using System.Buffers.Binary;
using System.Text.Json.Nodes;
using SharpGpt.Model.Checkpoints;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Quantized;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.Model.Tests.Inference;
using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels.Quantized;
using SharpGpt.Tensors.Random;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Checkpoints;

public sealed class QuantizedCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpgpt-quantized").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Fp32Folder => Path.Combine(_dir, "fp32");

    private string QuantizedFolder => Path.Combine(_dir, "quantized");

    private string QuantizedWeightsFile => Path.Combine(QuantizedFolder, HfModelLoader.WeightsFile);

    /// <summary>C = 48 and F = 80 are not multiples of the 32-wide groups, so every matrix has a zero-padded last group.</summary>
    private static GptConfig Config(ModelFamily family) => family == ModelFamily.Gpt2
        ? new GptConfig { Family = family, VocabSize = 97, ContextLength = 24, EmbeddingSize = 48, LayerCount = 2, HeadCount = 2, FeedForwardSize = 80, EndOfTextTokenId = 96 }
        : new GptConfig
        {
            Family = family, VocabSize = 97, ContextLength = 24, EmbeddingSize = 48, LayerCount = 2, HeadCount = 2, FeedForwardSize = 80,
            AttentionLayers = [AttentionKind.Global, AttentionKind.Local], WindowSize = 5, ScaleAttention = false, QkvBias = false, EndOfTextTokenId = 96,
        };

    /// <summary>Saves a random fp32 model, then the same model quantized; returns the logits of the fp32 folder quantized at load.</summary>
    private float[][] SaveBoth(ModelFamily family, QuantizationKind kind, int[] prompt)
    {
        using (GptModel model = new(Config(family)))
        {
            model.InitializeGpt2(new Rng(3));
            HfModelSaver.Save(model, Fp32Folder);
            model.Quantize(kind, keepFloatWeights: false);
            HfModelSaver.SaveQuantized(model, QuantizedFolder);
        }
        using GptModel quantizedAtLoad = HfModelLoader.Load(Fp32Folder).Model;
        quantizedAtLoad.Quantize(kind);
        return QuantizedModelTests.Logits(quantizedAtLoad, prompt);
    }

    [Theory]
    [InlineData(ModelFamily.Gpt2, QuantizationKind.Int8)]
    [InlineData(ModelFamily.Gpt2, QuantizationKind.Int4)]
    [InlineData(ModelFamily.GptNeo, QuantizationKind.Int8)]
    [InlineData(ModelFamily.GptNeo, QuantizationKind.Int4)]
    [InlineData(ModelFamily.Gpt2, QuantizationKind.BFloat16)]
    [InlineData(ModelFamily.GptNeo, QuantizationKind.BFloat16)]
    public void AQuantizedFolderGivesTheLogitsOfQuantizingAtLoadWithoutAnyFp32Matrix(ModelFamily family, QuantizationKind kind)
    {
        int[] prompt = TestArrays.Integers(new Rng(7), 9, 97);
        float[][] expected = SaveBoth(family, kind, prompt);

        LoadedModel loaded = HfModelLoader.Load(QuantizedFolder);
        using GptModel model = loaded.Model;
        Assert.Empty(loaded.Warnings);
        Assert.True(model.FloatMatricesReleased);
        Assert.Equal(kind, model.Quantized!.Kind);
        float[][] actual = QuantizedModelTests.Logits(model, prompt);
        for (int row = 0; row < expected.Length; row++)
        {
            Assert.Equal(expected[row], actual[row]);
        }
        Assert.Throws<SharpGptException>(() => new TrainingGraph(model, 1, 4));

        using SafetensorsFile file = SafetensorsFile.Open(QuantizedWeightsFile);
        Assert.Equal(QuantizedCheckpoint.KindName(kind), file.Metadata[QuantizedCheckpoint.MetadataKey]);
        string[] fp32Matrices = ["c_attn.weight", "c_proj.weight", "c_fc.weight", "q_proj.weight", "k_proj.weight", "v_proj.weight", "out_proj.weight"];
        Assert.DoesNotContain(file.Tensors.Keys, name => !QuantizedCheckpoint.IsQuantizedTensor(name) && fp32Matrices.Any(name.EndsWith));
        Assert.Contains(file.Tensors.Keys, name => name.EndsWith("c_fc.bias", StringComparison.Ordinal));
        // The token table is stored once, quantized (it is the head and the embedding); positions stay fp32.
        Assert.DoesNotContain("transformer.wte.weight", file.Tensors.Keys);
        Assert.Contains("transformer.wpe.weight", file.Tensors.Keys);
        // 48 columns → 2 groups; the head [97, 48]: int8 64 bytes per row, q4 32, bf16 64 values (no scales).
        SafetensorsEntry head = file.Entry("sharpgpt_quantized.wte.q");
        (SafetensorsDType dtype, long columns) = kind switch
        {
            QuantizationKind.Int8 => (SafetensorsDType.I8, 64L),
            QuantizationKind.Int4 => (SafetensorsDType.U8, 32L),
            _ => (SafetensorsDType.BF16, 64L),
        };
        Assert.Equal(dtype, head.DType);
        Assert.Equal([97L, columns], head.Shape);
        if (kind == QuantizationKind.BFloat16)
        {
            Assert.DoesNotContain(file.Tensors.Keys, name => name.EndsWith(".scales", StringComparison.Ordinal));
        }
        else
        {
            Assert.Equal([97L, 2], file.Entry("sharpgpt_quantized.wte.scales").Shape);
            Assert.Equal([48L, 3], file.Entry("sharpgpt_quantized.h.1.mlp.proj.weight.scales").Shape);
        }
        JsonObject config = JsonNode.Parse(File.ReadAllText(Path.Combine(QuantizedFolder, HfModelLoader.ConfigFile)))!.AsObject();
        Assert.Equal("sharpgpt", (string?)config["quantization_config"]!["quant_method"]);
        Assert.True(new FileInfo(QuantizedWeightsFile).Length < new FileInfo(Path.Combine(Fp32Folder, HfModelLoader.WeightsFile)).Length);
    }

    [Fact]
    public void SavingANonQuantizedModelAsQuantizedIsRefused()
    {
        using GptModel model = new(Config(ModelFamily.Gpt2));
        Assert.Throws<ArgumentException>(() => HfModelSaver.SaveQuantized(model, QuantizedFolder));
    }

    [Fact]
    public void ANonFiniteScaleNamesItsTensor()
    {
        SaveBoth(ModelFamily.Gpt2, QuantizationKind.Int8, [1, 2]);
        Patch("sharpgpt_quantized.h.0.attn.qkv.weight.scales", 4, BitConverter.GetBytes(float.NaN));
        var ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(QuantizedFolder));
        Assert.Contains("'sharpgpt_quantized.h.0.attn.qkv.weight.scales'", ex.Message);
        Assert.Contains("NaN", ex.Message);
    }

    [Theory]
    [InlineData(0L, new byte[] { 0xC0, 0x7F }, "NaN")]
    [InlineData(0L, new byte[] { 0x80, 0xFF }, "infinity")]
    // Column 50 of the head's row 0: past its 48 columns, in the padding of the second group.
    [InlineData(100L, new byte[] { 0x80, 0x3F }, "padding")]
    public void ABFloat16WeightThatIsNotFiniteOrPaddingThatIsNotZeroIsRefused(long offset, byte[] bytes, string named)
    {
        SaveBoth(ModelFamily.Gpt2, QuantizationKind.BFloat16, [1, 2]);
        Patch("sharpgpt_quantized.wte.q", offset, bytes);
        var ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(QuantizedFolder));
        Assert.Contains("'sharpgpt_quantized.wte.q'", ex.Message);
        Assert.Contains(named, ex.Message);
    }

    [Fact]
    public void AnInt8WeightOfMinus128IsRefused()
    {
        SaveBoth(ModelFamily.Gpt2, QuantizationKind.Int8, [1, 2]);
        Patch("sharpgpt_quantized.h.1.mlp.fc.weight.q", 5, [0x80]);
        var ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(QuantizedFolder));
        Assert.Contains("'sharpgpt_quantized.h.1.mlp.fc.weight.q'", ex.Message);
        Assert.Contains("−128", ex.Message);
    }

    [Fact]
    public void AQuantizedTensorOfTheWrongShapeOrAnUnknownKindIsRefused()
    {
        SaveBoth(ModelFamily.Gpt2, QuantizationKind.Int4, [1, 2]);
        // Rewrite the file with the head's packed groups as one flat row.
        var tensors = new List<SafetensorsBytesSource>();
        using (SafetensorsFile file = SafetensorsFile.Open(QuantizedWeightsFile))
        {
            foreach (SafetensorsEntry entry in file.Tensors.Values.OrderBy(e => e.Begin))
            {
                byte[] bytes = new byte[entry.End - entry.Begin];
                file.ReadBytes(entry, entry.DType, bytes);
                long[] shape = entry.Name == "sharpgpt_quantized.wte.q" ? [entry.ElementCount] : entry.Shape;
                tensors.Add(new SafetensorsBytesSource(entry.Name, entry.DType, shape, stream => stream.Write(bytes)));
            }
        }
        SafetensorsWriter.Write(QuantizedWeightsFile, [], metadata: new Dictionary<string, string> { [QuantizedCheckpoint.MetadataKey] = "q4" }, byteTensors: tensors);
        var ex = Assert.Throws<CheckpointException>(() => HfModelLoader.Load(QuantizedFolder));
        Assert.Contains("'sharpgpt_quantized.wte.q' has shape [3104]", ex.Message);

        SafetensorsWriter.Write(QuantizedWeightsFile, [], metadata: new Dictionary<string, string> { [QuantizedCheckpoint.MetadataKey] = "q3" }, byteTensors: tensors);
        Assert.Contains("unknown quantization 'q3'", Assert.Throws<CheckpointException>(() => HfModelLoader.Load(QuantizedFolder)).Message);
    }

    /// <summary>Overwrites bytes of one tensor's data in the quantized weights file.</summary>
    private void Patch(string tensor, long byteOffset, byte[] bytes)
    {
        long position;
        using (SafetensorsFile file = SafetensorsFile.Open(QuantizedWeightsFile))
        {
            byte[] length = new byte[8];
            using (FileStream read = File.OpenRead(QuantizedWeightsFile))
            {
                read.ReadExactly(length);
            }
            position = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(length) + file.Entry(tensor).Begin + byteOffset;
        }
        using FileStream stream = new(QuantizedWeightsFile, FileMode.Open, FileAccess.Write);
        stream.Position = position;
        stream.Write(bytes);
    }
}
