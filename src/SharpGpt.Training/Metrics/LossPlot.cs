namespace SharpGpt.Training.Metrics;

/// <summary>Draws the loss curve (training loss per step, validation loss at each evaluation) to a PNG with ScottPlot.</summary>
public static class LossPlot
{
    public static void Save(string path, IReadOnlyList<MetricsRecord> records, string title)
    {
        var plot = new ScottPlot.Plot();
        var train = records.Where(r => r.Loss is double d && double.IsFinite(d)).ToArray();
        var validation = records.Where(r => r.ValidationLoss is double d && double.IsFinite(d)).ToArray();
        if (train.Length > 0)
        {
            var line = plot.Add.Scatter(train.Select(r => (double)r.Step).ToArray(), train.Select(r => r.Loss!.Value).ToArray());
            line.LegendText = "train loss";
            line.MarkerSize = 0;
        }
        if (validation.Length > 0)
        {
            var points = plot.Add.Scatter(validation.Select(r => (double)r.Step).ToArray(), validation.Select(r => r.ValidationLoss!.Value).ToArray());
            points.LegendText = "validation loss";
            points.MarkerSize = 6;
        }
        plot.Title(title);
        plot.XLabel("step");
        plot.YLabel("cross-entropy (nats/token)");
        plot.ShowLegend();
        string temporary = path + ".tmp.png";
        plot.SavePng(temporary, 900, 500);
        File.Move(temporary, path, overwrite: true);
    }
}
