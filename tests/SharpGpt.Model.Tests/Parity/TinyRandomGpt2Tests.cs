using System.Text.Json;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Inference;
using SharpGpt.Model.Training;
using SharpGpt.TestSupport;
using Xunit;

namespace SharpGpt.Model.Tests.Parity;

/// <summary>hf-internal-testing/tiny-random-gpt2 against onnxruntime-genai's expected logits and greedy sequences.</summary>
[Collection(SerialCollection.Name)]
public class TinyRandomGpt2Tests
{
    /// <summary>The bar (onnxruntime-genai itself used 1e-3); the values were re-checked in float64 to 1e-6.</summary>
    private const double LogitsTolerance = 1e-4;

    private static readonly string Folder = TestData.Path("models", "tiny-random-gpt2");
    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(Folder, "reference_outputs.json"))).RootElement;

    private static int[][] Inputs => Reference.GetProperty("input_ids").EnumerateArray()
        .Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();

    private static float[] Floats(string name) => Reference.GetProperty(name).EnumerateArray().Select(x => x.GetSingle()).ToArray();

    [Fact]
    public void PromptLogitsMatch()
    {
        using GptModel model = HfModelLoader.Load(Folder).Model;
        int[][] inputs = Inputs;
        int batch = inputs.Length, time = inputs[0].Length, v = model.Config.VocabSize;
        using TrainingGraph graph = new(model, batch, time);
        graph.ForwardLogits(inputs.SelectMany(r => r).ToArray(), batch, time);
        float[] flat = new float[batch * time * v];
        for (int row = 0; row < batch * time; row++)
        {
            graph.Logits(row).CopyTo(flat.AsSpan(row * v));
        }
        float[] sampled = Floats("prompt_logits_sampled_every_200");
        NumericAssert.Close(sampled, Enumerable.Range(0, sampled.Length).Select(i => flat[i * 200]).ToArray(), LogitsTolerance, 0, "prompt logits");
        float[] lastExpected = Floats("last_token_logits_after_prompt_sampled_every_200");
        float[] lastFlat = new float[batch * v];
        for (int b = 0; b < batch; b++)
        {
            graph.Logits(b * time + time - 1).CopyTo(lastFlat.AsSpan(b * v));
        }
        NumericAssert.Close(lastExpected, Enumerable.Range(0, lastExpected.Length).Select(i => lastFlat[i * 200]).ToArray(), LogitsTolerance, 0, "last-token logits");
    }

    [Fact]
    public void GreedySequencesAndStepLogitsMatchThroughTheKvCache()
    {
        using GptModel model = HfModelLoader.Load(Folder).Model;
        int[][] inputs = Inputs;
        int[][] expected = Reference.GetProperty("greedy_max_length_10").EnumerateArray()
            .Select(r => r.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        float[] afterOneExpected = Floats("last_token_logits_after_1_generated_token_sampled_every_200");
        int v = model.Config.VocabSize;
        // Both sequences decode together in one batched session, each in its own slot.
        using InferenceSession session = new(model, slots: 2, maxTokensPerStep: 8);
        var sequences = inputs.Select(r => r.ToList()).ToArray();
        SequenceChunk[] chunks = [new(0, inputs[0], LogitsRequest.Last), new(1, inputs[1], LogitsRequest.Last)];
        float[] afterOne = new float[2 * v];
        for (int step = 0; sequences[0].Count < 10; step++)
        {
            session.Step(chunks);
            if (step == 1)
            {
                session.Logits(0).CopyTo(afterOne.AsSpan(0, v));
                session.Logits(1).CopyTo(afterOne.AsSpan(v, v));
            }
            for (int s = 0; s < 2; s++)
            {
                int next = FixtureParityTests.ArgMax(session.Logits(s));
                sequences[s].Add(next);
                chunks[s] = new SequenceChunk(s, new[] { next }, LogitsRequest.Last);
            }
        }
        Assert.Equal(expected[0], sequences[0]);
        Assert.Equal(expected[1], sequences[1]);
        NumericAssert.Close(afterOneExpected, Enumerable.Range(0, afterOneExpected.Length).Select(i => afterOne[i * 200]).ToArray(),
            LogitsTolerance, 0, "logits after one generated token");
    }
}
