using System.Text.Json;
using SharpGpt.Model.Checkpoints.HuggingFace;
using SharpGpt.Model.Checkpoints.Safetensors;
using SharpGpt.TestSupport;

namespace SharpGpt.Model.Tests.Parity;

/// <summary>A PyTorch-computed fixture folder (tests/TestData/fixtures/NAME): model, expected.json, expected.safetensors.</summary>
public sealed class Fixture
{
    public Fixture(string name)
    {
        Directory = TestData.Path("fixtures", name);
        Expected = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(Directory, "expected.json"))).RootElement;
        InputIds = Expected.GetProperty("input_ids").EnumerateArray()
            .Select(row => row.EnumerateArray().Select(x => x.GetInt32()).ToArray()).ToArray();
        JsonElement tolerances = Expected.GetProperty("tolerances");
        LogitsTolerance = tolerances.GetProperty("logits_abs").GetDouble();
        LossTolerance = tolerances.GetProperty("loss_abs").GetDouble();
        GradNormTolerance = tolerances.GetProperty("grad_norm_rel").GetDouble();
    }

    public string Directory { get; }

    public JsonElement Expected { get; }

    public int[][] InputIds { get; }

    public int Batch => InputIds.Length;

    public int Time => InputIds[0].Length;

    /// <summary>Tolerances named by the fixture itself ("fp32 with different summation order").</summary>
    public double LogitsTolerance { get; }

    public double LossTolerance { get; }

    public double GradNormTolerance { get; }

    public GptModel LoadModel() => HfModelLoader.Load(Directory).Model;

    public int[] FlatInputs => InputIds.SelectMany(r => r).ToArray();

    /// <summary>Targets as Hugging Face computes the loss with labels = input_ids: next token, none for the last position.</summary>
    public int[] ShiftedTargets
    {
        get
        {
            int[] targets = new int[Batch * Time];
            for (int b = 0; b < Batch; b++)
            {
                for (int t = 0; t < Time; t++)
                {
                    targets[b * Time + t] = t + 1 < Time ? InputIds[b][t + 1] : -1;
                }
            }
            return targets;
        }
    }

    public float[] Floats(JsonElement array) => array.EnumerateArray().Select(x => x.GetSingle()).ToArray();

    /// <summary>An expected gradient tensor (Hugging Face name and layout).</summary>
    public float[] ExpectedGradient(SafetensorsFile file, string hfName)
    {
        SafetensorsEntry entry = file.Entry("grad." + hfName);
        float[] values = new float[entry.ElementCount];
        file.ReadFloat32(entry, values);
        return values;
    }
}
