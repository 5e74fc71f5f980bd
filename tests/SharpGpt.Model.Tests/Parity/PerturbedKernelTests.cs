using SharpGpt.Model.Training;
using SharpGpt.Tensors.Kernels;
using Xunit;
using Xunit.Sdk;

namespace SharpGpt.Model.Tests.Parity;

/// <summary>Shows that the parity tests have teeth: a slightly wrong GELU makes them fail.</summary>
[Collection(SerialCollection.Name)]
public class PerturbedKernelTests
{
    [Fact]
    public void ParityFailsWhenTheGeluKernelIsPerturbed()
    {
        Fixture fixture = new("tiny-gpt2");
        using GptModel model = fixture.LoadModel();
        using TrainingGraph graph = new(model, fixture.Batch, fixture.Time);
        float original = Gelu.Cubic;
        try
        {
            // 0.044715 → 0.04: one wrong digit in one constant of one kernel.
            Gelu.Cubic = 0.04f;
            graph.ForwardLogits(fixture.FlatInputs, fixture.Batch, fixture.Time);
            Assert.ThrowsAny<XunitException>(() => FixtureParityTests.CompareLogits(fixture, graph));
        }
        finally
        {
            Gelu.Cubic = original;
        }
        graph.ForwardLogits(fixture.FlatInputs, fixture.Batch, fixture.Time);
        FixtureParityTests.CompareLogits(fixture, graph);
    }
}
