using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using System.Text.Json;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Gateway.Host.Tests.Deploy;

/// <summary>Static checks of the deployment files (deploy/**, Dockerfile): they parse and keep the facts operations rely on.</summary>
public sealed class ManifestTests
{
    private static readonly string s_root = FindRepositoryRoot();

    [Fact]
    public void DeployYaml_EveryFile_Parses()
    {
        var files = YamlFiles();
        Assert.NotEmpty(files);

        var errors = new List<string>();
        foreach (var file in files)
        {
            try
            {
                var stream = new YamlStream();
                using var reader = new StreamReader(file);
                stream.Load(reader);
                if (stream.Documents.Count == 0)
                {
                    errors.Add($"{Relative(file)}: no YAML document");
                }
            }
            catch (Exception ex)
            {
                // YamlDotNet mostly throws YamlException (with line and column), but not always.
                errors.Add(Describe(file, ex));
            }
        }

        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    [Fact]
    public void Compose_Services_HaveGatewayAndRabbitMq()
    {
        var services = Mapping(ComposeFile(), "services");

        Assert.NotNull(Find(services, "gateway"));
        Assert.NotNull(Find(services, "rabbitmq"));
    }

    /// <summary>appsettings.json plus a compose service's environment (<c>__</c> as <c>:</c>), bound and validated as the gateway does.</summary>
    private static (Gateway.Host.Configuration.GatewayOptions Options, IReadOnlyList<string> Errors) BindAndValidate(YamlMappingNode environment)
    {
        var settings = environment.Children.ToDictionary(e => ((YamlScalarNode)e.Key).Value!.Replace("__", ":", StringComparison.Ordinal), e => ((YamlScalarNode)e.Value).Value);
        var configuration = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddJsonFile(Path.Combine(s_root, "appsettings.json"))
            .AddInMemoryCollection(settings)
            .Build();
        using var provider = new Microsoft.Extensions.DependencyInjection.ServiceCollection().AddLogging().AddGateway(configuration).Services.BuildServiceProvider();
        var options = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Microsoft.Extensions.Options.IOptions<Gateway.Host.Configuration.GatewayOptions>>(provider).Value;
        var validator = Microsoft.Extensions.DependencyInjection.ServiceProviderServiceExtensions.GetRequiredService<Gateway.Host.Configuration.GatewayOptionsValidator>(provider);
        return (options, [.. validator.GetErrors(options)]);
    }

    [Fact]
    public void Compose_GatewayEnvironment_BindsAndValidatesWithTheBridgeSocketsAndSinks()
    {
        var environment = Mapping(ComposeFile(), "services", "gateway", "environment");
        var (options, errors) = BindAndValidate(environment);

        Assert.Empty(options.BindErrors);
        Assert.Empty(errors);
        Assert.Equal(["rabbitmq", "redis-stream"], options.Sockets["bridge"].Handlers);
        Assert.Equal(Gateway.Host.Configuration.SocketProtocol.Stomp, options.Sockets["outbox"].Protocol);
    }

    [Fact]
    public void Deployment_Cluster_ThreeReplicasWithTheRedisServiceOfTheKustomization()
    {
        Assert.Equal("3", Scalar(KubernetesObject("Deployment"), "spec", "replicas"));
        var redis = Assert.Single(Sequence(GatewayContainer(), "env").Children.OfType<YamlMappingNode>(), e => Scalar(e, "name") == "Gateway__Cluster__Redis");
        var service = KubernetesObject("Service", "gateway-redis");
        Assert.Equal($"gateway-redis:{Scalar(Assert.Single(Sequence(service, "spec", "ports").Children), "port")}", Scalar(redis, "value"));
        var selector = Mapping(service, "spec", "selector");
        var labels = Mapping(KubernetesObject("Deployment", "gateway-redis"), "spec", "template", "metadata", "labels");
        Assert.All(selector.Children, pair => Assert.Equal(((YamlScalarNode)pair.Value).Value, (Find(labels, ((YamlScalarNode)pair.Key).Value ?? "") as YamlScalarNode)?.Value));
        Assert.Contains("redis.yaml", File.ReadAllText(Path.Combine(s_root, "deploy", "kubernetes", "kustomization.yaml")), StringComparison.Ordinal);
    }

    [Fact]
    public void ComposeCluster_EveryGateway_BindsAndValidatesTheSameClusterWithItsOwnPort()
    {
        var services = Mapping(Assert.Single(Load(Path.Combine(s_root, "deploy", "compose.cluster.yaml"))), "services");
        string[] gateways = ["gateway-0", "gateway-1", "gateway-2"];
        Assert.NotNull(Find(services, "redis"));
        var ports = new HashSet<string>(StringComparer.Ordinal);
        foreach (var name in gateways)
        {
            var service = Mapping(services, name);
            Assert.Equal(name, Scalar(service, "hostname"));
            Assert.True(ports.Add(Scalar(Assert.Single(Sequence(service, "ports").Children))));
            // The shared part comes by a YAML merge key (<<: *gateway), which the parser leaves as a key.
            var (options, errors) = BindAndValidate((YamlMappingNode)(Find(service, "environment") ?? Find(service, "<<", "environment"))!);

            Assert.Empty(errors);
            Assert.Equal("redis:6379", options.Cluster?.Redis);
            Assert.Equal(12, options.Sockets.Count(s => s.Value.Enabled));
        }
    }

    [Fact]
    public void Compose_Gateway_Maps8080ReadOnlyWithTmpAndDataVolume()
    {
        var gateway = Mapping(ComposeFile(), "services", "gateway");

        Assert.Contains(Sequence(gateway, "ports").Children, MapsContainerPort8080);
        Assert.Equal("true", Scalar(gateway, "read_only"));
        Assert.Contains(Sequence(gateway, "tmpfs").Children, n => n is YamlScalarNode { Value: "/tmp" });
        Assert.Contains(Sequence(gateway, "volumes").Children, n => n is YamlScalarNode s && (s.Value ?? "").Split(':') is [_, "/data", ..]);
        Assert.NotNull(Find(gateway, "healthcheck"));
    }

    [Fact]
    public void Deployment_Probes_UseHealthEndpoints()
    {
        var container = GatewayContainer();

        Assert.Equal("/health/live", Scalar(container, "livenessProbe", "httpGet", "path"));
        Assert.Equal("/health/ready", Scalar(container, "readinessProbe", "httpGet", "path"));
        Assert.Contains(Sequence(container, "ports").Children, p => p is YamlMappingNode m && Find(m, "containerPort") is YamlScalarNode { Value: "8080" });
    }

    [Fact]
    public void Deployment_SecurityContext_IsNonRootWithReadOnlyRootFilesystem()
    {
        var podSpec = PodSpec();
        var container = GatewayContainer();

        // runAsNonRoot may be set for the pod or for the container.
        var runAsNonRoot = (Find(container, "securityContext", "runAsNonRoot") ?? Find(podSpec, "securityContext", "runAsNonRoot")) as YamlScalarNode;
        Assert.Equal("true", runAsNonRoot?.Value);
        Assert.Equal("true", Scalar(container, "securityContext", "readOnlyRootFilesystem"));
        Assert.Equal("false", Scalar(container, "securityContext", "allowPrivilegeEscalation"));
        Assert.Contains(Sequence(container, "securityContext", "capabilities", "drop").Children, n => n is YamlScalarNode { Value: "ALL" });
    }

    [Fact]
    public void Deployment_Resources_HaveRequestsAndLimits()
    {
        var resources = Mapping(GatewayContainer(), "resources");

        foreach (var section in new[] { "requests", "limits" })
        {
            Assert.False(string.IsNullOrWhiteSpace(Scalar(resources, section, "cpu")), $"resources.{section}.cpu");
            Assert.False(string.IsNullOrWhiteSpace(Scalar(resources, section, "memory")), $"resources.{section}.memory");
        }
    }

    [Fact]
    public void Deployment_PodTemplate_HasPrometheusAnnotations()
    {
        var annotations = Mapping(KubernetesObject("Deployment"), "spec", "template", "metadata", "annotations");

        Assert.Equal("true", Scalar(annotations, "prometheus.io/scrape"));
        Assert.Equal("8080", Scalar(annotations, "prometheus.io/port"));
        Assert.Equal("/metrics", Scalar(annotations, "prometheus.io/path"));
    }

    [Fact]
    public void ConfigMap_AppSettings_IsJsonWithSockets()
    {
        var json = Scalar(KubernetesObject("ConfigMap"), "data", "appsettings.json");

        using var document = JsonDocument.Parse(json);
        var sockets = document.RootElement.GetProperty("Gateway").GetProperty("Sockets");
        Assert.Equal(JsonValueKind.Object, sockets.ValueKind);
        Assert.NotEmpty(sockets.EnumerateObject());
        Assert.All(sockets.EnumerateObject(), s => Assert.True(s.Value.TryGetProperty("Url", out _), $"Gateway:Sockets:{s.Name}:Url"));
    }

    [Fact]
    public void Deployment_AppSettingsMount_UsesTheConfigMap()
    {
        var configMapName = Scalar(KubernetesObject("ConfigMap"), "metadata", "name");
        var mount = Assert.Single(Sequence(GatewayContainer(), "volumeMounts").Children.OfType<YamlMappingNode>(), m => Scalar(m, "mountPath") == "/app/appsettings.json");
        Assert.Equal("appsettings.json", Scalar(mount, "subPath"));

        var volumeName = Scalar(mount, "name");
        var volume = Assert.Single(Sequence(PodSpec(), "volumes").Children.OfType<YamlMappingNode>(), v => Scalar(v, "name") == volumeName);
        Assert.Equal(configMapName, Scalar(volume, "configMap", "name"));
    }

    [Fact]
    public void Service_Selector_MatchesPodLabels()
    {
        var selector = Mapping(KubernetesObject("Service"), "spec", "selector");
        var labels = Mapping(KubernetesObject("Deployment"), "spec", "template", "metadata", "labels");

        Assert.NotEmpty(selector.Children);
        foreach (var (key, value) in selector.Children)
        {
            Assert.Equal(((YamlScalarNode)value).Value, (Find(labels, ((YamlScalarNode)key).Value ?? "") as YamlScalarNode)?.Value);
        }
    }

    [Fact]
    public void Dockerfile_RuntimeStage_RunsAsAppAndExposes8080()
    {
        var lines = File.ReadAllLines(Path.Combine(s_root, "Dockerfile"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToList();
        var runtime = lines.Skip(lines.FindLastIndex(l => l.StartsWith("FROM ", StringComparison.OrdinalIgnoreCase))).ToList();

        Assert.StartsWith("FROM mcr.microsoft.com/dotnet/aspnet:10.0", runtime[0], StringComparison.Ordinal);
        Assert.Contains("USER app", runtime);
        Assert.Contains("EXPOSE 8080", runtime);
        Assert.Contains(runtime, l => l.StartsWith("ENTRYPOINT", StringComparison.Ordinal) && l.Contains("Gateway.Host.dll", StringComparison.Ordinal));
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Gateway.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Gateway.sln above {AppContext.BaseDirectory}.");
    }

    private static string Relative(string path) => Path.GetRelativePath(s_root, path);

    private static string Describe(string path, Exception ex) => ex is YamlException yaml
        ? $"{Relative(path)} (line {yaml.Start.Line}, column {yaml.Start.Column}): {ex.Message}"
        : $"{Relative(path)}: {ex.GetType().Name}: {ex.Message}";

    private static List<string> YamlFiles()
        => Directory.EnumerateFiles(Path.Combine(s_root, "deploy"), "*.*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || f.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
            .Order(StringComparer.Ordinal)
            .ToList();

    private static List<YamlMappingNode> Load(string path)
    {
        var stream = new YamlStream();
        using var reader = new StreamReader(path);
        try
        {
            stream.Load(reader);
        }
        catch (Exception ex)
        {
            throw new InvalidDataException(Describe(path, ex), ex);
        }

        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    private static YamlMappingNode ComposeFile()
        => Assert.Single(Load(Path.Combine(s_root, "deploy", "compose.yaml")));

    /// <summary>
    /// The single object of <paramref name="kind"/> among all documents under deploy/kubernetes: the one
    /// called <paramref name="name"/>, or by default the gateway's (not the cluster Redis's, redis.yaml).
    /// </summary>
    private static YamlMappingNode KubernetesObject(string kind, string? name = null)
        => Assert.Single(
            YamlFiles().Where(f => f.StartsWith(Path.Combine(s_root, "deploy", "kubernetes") + Path.DirectorySeparatorChar, StringComparison.Ordinal)).SelectMany(Load),
            d => Find(d, "kind") is YamlScalarNode { Value: var k } && k == kind
                && Find(d, "metadata", "name") is YamlScalarNode { Value: var n } && (name is null ? n != "gateway-redis" : n == name));

    private static YamlMappingNode PodSpec() => Mapping(KubernetesObject("Deployment"), "spec", "template", "spec");

    private static YamlMappingNode GatewayContainer()
        => Assert.Single(Sequence(PodSpec(), "containers").Children.OfType<YamlMappingNode>(), c => Scalar(c, "name") == "gateway");

    private static bool MapsContainerPort8080(YamlNode port) => port switch
    {
        YamlScalarNode { Value: var v } => v is not null && (v == "8080" || v.EndsWith(":8080", StringComparison.Ordinal) || v.EndsWith(":8080/tcp", StringComparison.Ordinal)),
        YamlMappingNode m => Find(m, "target") is YamlScalarNode { Value: "8080" },
        _ => false,
    };

    private static YamlNode? Find(YamlNode node, params string[] path)
    {
        var current = node;
        foreach (var key in path)
        {
            if (current is not YamlMappingNode mapping || !mapping.Children.TryGetValue(new YamlScalarNode(key), out var next))
            {
                return null;
            }

            current = next;
        }

        return current;
    }

    private static YamlMappingNode Mapping(YamlNode node, params string[] path)
        => Find(node, path) as YamlMappingNode ?? throw new InvalidDataException($"no mapping at '{string.Join('.', path)}'");

    private static YamlSequenceNode Sequence(YamlNode node, params string[] path)
        => Find(node, path) as YamlSequenceNode ?? throw new InvalidDataException($"no sequence at '{string.Join('.', path)}'");

    private static string Scalar(YamlNode node, params string[] path)
        => (Find(node, path) as YamlScalarNode)?.Value ?? throw new InvalidDataException($"no scalar at '{string.Join('.', path)}'");
}
