using SharpGpt.Tensors.Memory;
using SharpGpt.Tensors.Random;

namespace SharpGpt.Model;

/// <summary>
/// A GPT's weights: the config, the parameter layout and the one flat parameter buffer.
/// Computation lives elsewhere: <see cref="Training.TrainingGraph"/> (forward, loss, backward) and
/// <see cref="Inference.InferenceSession"/> (KV-cached decoding), which both read these weights.
/// </summary>
public sealed unsafe class GptModel : IDisposable
{
    public GptModel(GptConfig config)
    {
        Layout = new ParameterLayout(config);
        Parameters = new NativeBuffer(Layout.TotalFloats);
    }

    public GptConfig Config => Layout.Config;

    public ParameterLayout Layout { get; }

    /// <summary>All parameters, laid out as <see cref="Layout"/> says.</summary>
    public NativeBuffer Parameters { get; }

    public float* Pointer(long offset) => Parameters.Pointer + offset;

    /// <summary>The values of one named tensor.</summary>
    public Span<float> Tensor(string name)
    {
        ParameterTensor tensor = Layout[name];
        return Parameters.Slice(tensor.Offset, checked((int)tensor.Length));
    }

    /// <summary>
    /// GPT-2 initialisation: weights and embeddings N(0, 0.02), biases 0, LayerNorm weight 1 and bias 0,
    /// and the two residual projections of each block (attn.proj, mlp.proj) N(0, 0.02/√(2·n_layer)),
    /// so the residual stream's variance does not grow with depth.
    /// </summary>
    public void InitializeGpt2(Rng rng, float standardDeviation = 0.02f)
    {
        Parameters.Clear();
        float residualStd = standardDeviation / MathF.Sqrt(2f * Config.LayerCount);
        foreach (ParameterTensor tensor in Layout.Tensors)
        {
            Span<float> values = Parameters.Slice(tensor.Offset, checked((int)tensor.Length));
            switch (tensor.Kind)
            {
                case ParameterKind.Norm when tensor.Name.EndsWith(".weight", StringComparison.Ordinal):
                    values.Fill(1f);
                    break;
                case ParameterKind.Norm or ParameterKind.Bias:
                    values.Clear();
                    break;
                default:
                    bool residual = tensor.Name.EndsWith("attn.proj.weight", StringComparison.Ordinal)
                        || tensor.Name.EndsWith("mlp.proj.weight", StringComparison.Ordinal);
                    float std = residual ? residualStd : standardDeviation;
                    for (int i = 0; i < values.Length; i++)
                    {
                        values[i] = (float)(rng.NextGaussian() * std);
                    }
                    break;
            }
        }
    }

    /// <summary>
    /// Frees the full parameter buffer for good (ZeRO stage 3 keeps only shards and gathers units on demand);
    /// any later use of <see cref="Parameters"/> fails.
    /// </summary>
    public void ReleaseParameters() => Parameters.Dispose();

    /// <summary>Quantized matrices for inference, when <see cref="Quantize"/> was called.</summary>
    public Inference.QuantizedWeights? Quantized { get; private set; }

    /// <summary>Quantizes the matrices for inference (the fp32 weights are kept for everything else).</summary>
    public void Quantize(Tensors.Kernels.Quantized.QuantizationKind kind)
    {
        Quantized?.Dispose();
        Quantized = Inference.QuantizedWeights.Create(this, kind);
    }

    public void Dispose()
    {
        Parameters.Dispose();
        Quantized?.Dispose();
    }
}
