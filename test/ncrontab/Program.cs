// Checks corpus.json against the schedule parser of the Azure Functions timer trigger, as
// Microsoft.Azure.WebJobs.Extensions.Timers applies it (TimerSchedule.Create, CronSchedule.TryCreate in
// Azure/azure-webjobs-sdk-extensions, src/WebJobs.Extensions/Extensions/Timers/Scheduling):
//   1. CrontabSchedule.TryParse(expression, new ParseOptions { IncludingSeconds = true }) (NCrontab.Signed);
//   2. otherwise TimeSpan.TryParse(expression): a ConstantSchedule, next = now + interval;
//   3. otherwise the host refuses the function ("not recognized as a valid cron expression or timespan string").
// For each entry it also says whether the schedule fires: a cron schedule within 28 years (the
// calendar's day-of-week cycle), a TimeSpan when it is longer than zero.
// Prints one line per mismatch and `N passed, N failed`; exits 1 on any mismatch.
using System.Globalization;
using System.Text.Json;
using NCrontab;

if (args.Length > 1 && args[0] == "--next")
{
    // `dotnet run -- --next '<expression>'...`: the next five occurrences from 2026-01-01, to see what NCrontab makes of one.
    foreach (var e in args.Skip(1))
    {
        var s = CrontabSchedule.TryParse(e, new CrontabSchedule.ParseOptions { IncludingSeconds = true });
        Console.WriteLine($"{JsonSerializer.Serialize(e)}: {(s == null ? "not cron" : string.Join(", ", s.GetNextOccurrences(new DateTime(2026, 1, 1), new DateTime(2027, 1, 1)).Take(5).Select(d => d.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))))}");
    }
    return 0;
}
var path = args.Length > 0 ? args[0] : Path.Combine(AppContext.BaseDirectory, "corpus.json");
var corpus = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("expressions");
int passed = 0, failed = 0;
var options = new CrontabSchedule.ParseOptions { IncludingSeconds = true };
var start = new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);
foreach (var entry in corpus.EnumerateArray())
{
    var expression = entry.GetProperty("expression").GetString() ?? "";
    var expectedHost = entry.GetProperty("host").GetString();
    var expectedFires = entry.GetProperty("fires").GetBoolean();
    string host;
    bool fires;
    CrontabSchedule? cron;
    // An int overflow (e.g. 99999999999) escapes NCrontab's TryParse as OverflowException: in the
    // host CronSchedule.TryCreate then throws and the function does not start either.
    try { cron = CrontabSchedule.TryParse(expression, options); }
    catch (OverflowException) { cron = null; }
    if (cron != null)
    {
        host = "cron";
        var end = start.AddYears(28);
        fires = cron.GetNextOccurrence(start, end) < end;
    }
    else if (TimeSpan.TryParse(expression, CultureInfo.InvariantCulture, out var span))
    {
        host = "timespan";
        fires = span > TimeSpan.Zero;
    }
    else
    {
        host = "invalid";
        fires = false;
    }
    if (host == expectedHost && fires == expectedFires) passed++;
    else
    {
        failed++;
        Console.WriteLine($"MISMATCH {JsonSerializer.Serialize(expression)}: NCrontab.Signed/TimeSpan say host={host} fires={fires.ToString().ToLowerInvariant()}, corpus says host={expectedHost} fires={expectedFires.ToString().ToLowerInvariant()}");
    }
}
Console.WriteLine($"ncrontab corpus: {passed} passed, {failed} failed");
return failed == 0 && passed >= 60 ? 0 : 1;
