"""``aiops incidents``, ``aiops silence`` and ``aiops topology``: the on-call commands, which
talk to a running API (see :mod:`aiops.cli_client` for where its address and credential
come from). ``-o table`` (default) prints aligned columns, ``-o json`` the API's JSON.
``aiops silence`` takes amtool's flags and matcher syntax."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from aiops.cli_client import ApiClient, base_url
from aiops.cli_format import FORMATS, ago, short_time, table, to_json
from aiops.model import ConfigError

UrlOpt = Annotated[str, typer.Option("--url", envvar="AIOPS_URL",
                                     help="The API, e.g. http://127.0.0.1:8080.")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="AIOPS_TOKEN",
                                       help="Bearer token (api.bearer_token).")]
BasicOpt = Annotated[str, typer.Option("--basic-auth", envvar="AIOPS_BASIC_AUTH",
                                       help="user:password for basic auth.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", envvar="AIOPS_CONFIG",
                                                help="Settings file to take the URL and "
                                                     "credential from.")]
OutputOpt = Annotated[str, typer.Option("--output", "-o", help="table or json.")]


def _client(url: str, token: str, basic: str, config: Path | None) -> ApiClient:
    """Flags and environment first; whatever they leave out comes from the settings."""
    if not url or not (token or basic):
        from aiops.settings import Settings

        api = Settings.load(config).api
        url = url or base_url(api)
        if not (token or basic):
            token = api.bearer_token
            if not token and api.basic_username:
                basic = f"{api.basic_username}:{api.basic_password}"
    return ApiClient(url, token, basic)


def _output(output: str) -> str:
    if output not in FORMATS:
        raise typer.BadParameter(f"--output must be one of {', '.join(FORMATS)}")
    return output


def _echo(value: Any, output: str, render: Any) -> None:
    typer.echo(to_json(value) if output == "json" else render(value))


# ------------------------------------------------------------------------- incidents

incidents = typer.Typer(help="List, show, acknowledge and resolve incidents.",
                        no_args_is_help=True)


def _incident_rows(found: list[dict[str, Any]]) -> str:
    rows = [[i["id"], i["status"], i["severity"],
             i["root_causes"][0]["service"] if i["root_causes"] else "",
             len(i["alerts"]), ",".join(i["services"][:3]), ago(i["opened_at"]), i["title"]]
            for i in found]
    return table(["ID", "STATUS", "SEVERITY", "ROOT CAUSE", "ALERTS", "SERVICES", "AGE",
                  "TITLE"], rows)


@incidents.command("list")
def incidents_list(
    status: Annotated[str, typer.Option(help="pending, open, acknowledged, resolved")] = "",
    service: str = "", severity: str = "",
    since: Annotated[str, typer.Option(help="RFC 3339, epoch seconds, or a duration "
                                            "back from now (1h, 2d)")] = "",
    limit: int = 50, url: UrlOpt = "", token: TokenOpt = "", basic_auth: BasicOpt = "",
    config: ConfigOpt = None, output: OutputOpt = "table",
) -> None:
    """Incidents, newest first."""
    output = _output(output)
    if since and re.fullmatch(r"\d+[smhdw]", since):
        since = str(time.time() - duration_s(since))
    found = _client(url, token, basic_auth, config).call(
        "GET", "/api/v1/incidents", params={"status": status, "service": service,
                                            "severity": severity, "since": since,
                                            "limit": limit})
    _echo(found["incidents"], output, _incident_rows)


def _incident_text(i: dict[str, Any]) -> str:
    lines = [f"{i['title']}", f"  id:        {i['id']} (version {i['version']})",
             f"  status:    {i['status']}    severity: {i['severity']}",
             f"  opened:    {short_time(i['opened_at'])}    updated: "
             f"{short_time(i['updated_at'])}",
             f"  services:  {', '.join(i['services'])}", "", "Root causes:"]
    for rank, cause in enumerate(i["root_causes"][:10], 1):
        lines.append(f"  {rank}. {cause['service']}  {cause['score']:.3f}")
        lines.extend(f"       - {e}" for e in cause["evidence"][:5])
    lines += ["", f"Alerts ({len(i['alerts'])}):"]
    rows = [[a["labels"].get("alertname", ""), a["status"],
             a["labels"].get("service") or a["labels"].get("job", ""),
             short_time(a["startsAt"])] for a in i["alerts"][:20]]
    lines.append(_indent(table(["ALERT", "STATUS", "SERVICE", "STARTED"], rows)))
    if len(i["alerts"]) > 20:
        lines.append(f"  ... and {len(i['alerts']) - 20} more")
    lines += ["", "Timeline:"]
    lines.extend(f"  {short_time(t['ts'])}  {t['event']:<14} {t['status']:<13} {t['actor']}"
                 + (f"  {t['note']}" if t["note"] else "") for t in i["timeline"][-15:])
    return "\n".join(lines)


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


@incidents.command("show")
def incidents_show(incident_id: str, url: UrlOpt = "", token: TokenOpt = "",
                   basic_auth: BasicOpt = "", config: ConfigOpt = None,
                   output: OutputOpt = "table") -> None:
    """One incident: ranked root causes, alerts and timeline."""
    output = _output(output)
    found = _client(url, token, basic_auth, config).call(
        "GET", f"/api/v1/incidents/{incident_id}")
    _echo(found, output, _incident_text)


def _change(kind: str, incident_id: str, note: str, actor: str, client: ApiClient,
            output: str) -> None:
    result = client.call("POST", f"/api/v1/incidents/{incident_id}/{kind}",
                         json={"actor": actor, "note": note})
    if output == "json":
        typer.echo(to_json(result))
    elif "accepted" in result:
        typer.echo(f"{incident_id}: {kind} sent; the correlator has not applied it yet")
    else:
        typer.echo(f"{incident_id}: {result['status']} (version {result['version']})")


def _actor(actor: str) -> str:
    return actor or os.environ.get("USER") or "cli"


@incidents.command("ack")
def incidents_ack(incident_id: str, note: str = "", actor: str = "", url: UrlOpt = "",
                  token: TokenOpt = "", basic_auth: BasicOpt = "", config: ConfigOpt = None,
                  output: OutputOpt = "table") -> None:
    """Acknowledge an incident (needs the write credential)."""
    _change("acknowledge", incident_id, note, _actor(actor),
            _client(url, token, basic_auth, config), _output(output))


@incidents.command("resolve")
def incidents_resolve(incident_id: str, note: str = "", actor: str = "", url: UrlOpt = "",
                      token: TokenOpt = "", basic_auth: BasicOpt = "",
                      config: ConfigOpt = None, output: OutputOpt = "table") -> None:
    """Resolve an incident (needs the write credential)."""
    _change("resolve", incident_id, note, _actor(actor),
            _client(url, token, basic_auth, config), _output(output))


# ------------------------------------------------------------------------- silences

silence = typer.Typer(help="Add, query and expire silences (amtool's flags and matchers).",
                      no_args_is_help=True)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_s(text: str) -> float:
    """A Prometheus-style duration: ``90s``, ``15m``, ``2h``, ``1d``, ``1h30m``.

    >>> duration_s("1h30m"), duration_s("2d")
    (5400.0, 172800.0)
    """
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ConfigError(f"cannot read duration {text!r} (e.g. 30m, 2h, 1d)")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


def _silence_rows(found: list[dict[str, Any]]) -> str:
    def matchers(s: dict[str, Any]) -> str:
        ops = {(False, True): "=", (False, False): "!=", (True, True): "=~",
               (True, False): "!~"}
        return " ".join(f'{m["name"]}{ops[(m["isRegex"], m.get("isEqual", True))]}'
                        f'"{m["value"]}"' for m in s["matchers"])

    rows = [[s["id"], matchers(s), s["status"]["state"], short_time(s["endsAt"]),
             s["createdBy"], s["comment"]] for s in found]
    return table(["ID", "MATCHERS", "STATE", "ENDS AT", "CREATED BY", "COMMENT"], rows)


@silence.command("add")
def silence_add(
    matchers: Annotated[list[str], typer.Argument(help='e.g. alertname=DiskFull '
                                                       'service=~"db-.*"')],
    duration: Annotated[str, typer.Option("--duration", "-d")] = "1h",
    comment: Annotated[str, typer.Option("--comment", "-c")] = "",
    author: Annotated[str, typer.Option("--author", "-a")] = "",
    start: Annotated[str, typer.Option(help="RFC 3339; default now")] = "",
    url: UrlOpt = "", token: TokenOpt = "", basic_auth: BasicOpt = "",
    config: ConfigOpt = None, output: OutputOpt = "table",
) -> None:
    """Add a silence; prints its id."""
    output = _output(output)
    if not comment:
        raise typer.BadParameter("--comment is required (say why)")
    starts = time.time()
    if start:
        from aiops.wire.timefmt import parse_time

        starts = parse_time(start, field="start") or starts
    body = {"matchers": matchers, "startsAt": starts,
            "endsAt": starts + duration_s(duration), "createdBy": _actor(author),
            "comment": comment}
    result = _client(url, token, basic_auth, config).call("POST", "/api/v1/silences",
                                                          json=body)
    typer.echo(to_json(result) if output == "json" else result["silenceID"])


@silence.command("query")
def silence_query(
    matchers: Annotated[list[str] | None, typer.Argument(help="filters")] = None,
    expired: Annotated[bool, typer.Option(help="Also expired silences.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only ids.")] = False,
    url: UrlOpt = "", token: TokenOpt = "", basic_auth: BasicOpt = "",
    config: ConfigOpt = None, output: OutputOpt = "table",
) -> None:
    """Silences (active and pending; ``--expired`` for all), filtered as amtool does."""
    output = _output(output)
    found = _client(url, token, basic_auth, config).call(
        "GET", "/api/v2/silences", params={"filter": matchers or None})
    found = [s for s in found if expired or s["status"]["state"] != "expired"]
    if quiet:
        typer.echo("\n".join(s["id"] for s in found))
        return
    _echo(found, output, _silence_rows)


@silence.command("expire")
def silence_expire(silence_ids: list[str], url: UrlOpt = "", token: TokenOpt = "",
                   basic_auth: BasicOpt = "", config: ConfigOpt = None) -> None:
    """Expire silences now."""
    client = _client(url, token, basic_auth, config)
    for ident in silence_ids:
        client.call("DELETE", f"/api/v1/silences/{ident}")
        typer.echo(f"{ident}: expired")


# ------------------------------------------------------------------------- topology

topology = typer.Typer(help="The service graph the correlator uses.", no_args_is_help=True)


def _topology_text(graph: dict[str, Any]) -> str:
    calls: dict[str, list[str]] = {}
    for e in graph["edges"]:
        calls.setdefault(e["source"], []).append(
            e["target"] + ("" if e["kind"] == "calls" else f" ({e['kind']})"))
    rows = [[s["name"], s["kind"], ", ".join(sorted(calls.get(s["name"], [])))]
            for s in graph["services"]]
    head = f"{len(graph['services'])} nodes, {len(graph['edges'])} edges " \
           f"(version {graph.get('version', 0)})"
    return head + "\n" + table(["NODE", "KIND", "DEPENDS ON"], rows, max_width=100)


@topology.command("show")
def topology_show(url: UrlOpt = "", token: TokenOpt = "", basic_auth: BasicOpt = "",
                  config: ConfigOpt = None, output: OutputOpt = "table") -> None:
    """Nodes with what each depends on."""
    output = _output(output)
    graph = _client(url, token, basic_auth, config).call("GET", "/api/v1/topology")
    _echo(graph, output, _topology_text)


def mount(app: typer.Typer) -> None:
    app.add_typer(incidents, name="incidents")
    app.add_typer(silence, name="silence")
    app.add_typer(topology, name="topology")
