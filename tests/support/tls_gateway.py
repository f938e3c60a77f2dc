"""A real HTTPS gateway with basic auth in front of a local server: nginx (Debian's package)
with a throwaway private CA made by the openssl CLI.

This is how many banks expose a schema registry: TLS with a certificate from the bank's own CA
and basic auth at a reverse proxy. The tests point predelinq's registry client at it, so the
``SCHEMA_REGISTRY_USERNAME``/``PASSWORD``/``CA_FILE`` settings are exercised against real TLS
and a real auth check rather than a fake.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from stream_app.brokers._ports import free_port, wait_for_port
from stream_app.brokers._process import ManagedProcess

__all__ = ["TlsBasicAuthGateway", "nginx_executable"]


def nginx_executable() -> str | None:
    for candidate in ("nginx", "/usr/sbin/nginx"):
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr[-1000:]}")


class TlsBasicAuthGateway(ManagedProcess):
    """nginx on 127.0.0.1 serving https://127.0.0.1:<port> with basic auth, proxying to
    ``upstream`` (an http:// URL). ``ca_file`` is the CA that signed its certificate."""

    stop_timeout = 5.0

    def __init__(self, upstream: str, *, username: str, password: str) -> None:
        super().__init__(Path(tempfile.mkdtemp(prefix="predelinq-gateway-")), own_workdir=True)
        parts = urlsplit(upstream)
        self._upstream_origin = f"{parts.scheme}://{parts.netloc}"
        self._upstream_path = parts.path
        self.username = username
        self.password = password
        self.port = free_port()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}{self._upstream_path}"

    @property
    def ca_file(self) -> Path:
        return self.workdir / "ca.pem"

    def _make_certificates(self) -> None:
        w = self.workdir
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                 "-subj", "/CN=predelinq test CA", "-keyout", "ca.key", "-out", "ca.pem", cwd=w)
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                 "-keyout", "server.key", "-out", "server.csr", cwd=w)
        (w / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.pem",
                 cwd=w)

    def _write_config(self) -> Path:
        w = self.workdir
        hashed = subprocess.run(["openssl", "passwd", "-apr1", "-stdin"], input=self.password,
                                capture_output=True, text=True, check=True).stdout.strip()
        (w / "htpasswd").write_text(f"{self.username}:{hashed}\n")
        # nginx started as root reads the password file in an unprivileged worker (www-data)
        w.chmod(0o755)
        (w / "htpasswd").chmod(0o644)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (w / sub).mkdir(exist_ok=True)
        config = w / "nginx.conf"
        config.write_text(f"""
daemon off;
worker_processes 1;
pid {w}/nginx.pid;
error_log {w}/error.log warn;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {w}/body;
  proxy_temp_path {w}/proxy;
  fastcgi_temp_path {w}/fastcgi;
  uwsgi_temp_path {w}/uwsgi;
  scgi_temp_path {w}/scgi;
  server {{
    listen 127.0.0.1:{self.port} ssl;
    ssl_certificate {w}/server.pem;
    ssl_certificate_key {w}/server.key;
    auth_basic "schema registry";
    auth_basic_user_file {w}/htpasswd;
    location / {{
      proxy_pass {self._upstream_origin};
      proxy_set_header Authorization "";
    }}
  }}
}}
""")
        return config

    def start(self) -> TlsBasicAuthGateway:
        nginx = nginx_executable()
        if nginx is None:
            raise RuntimeError("nginx is not installed (scripts/ensure-system.sh installs it)")
        self._make_certificates()
        config = self._write_config()
        self.process = subprocess.Popen(
            [nginx, "-p", str(self.workdir), "-c", str(config),
             "-e", str(self.workdir / "error.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        if not wait_for_port("127.0.0.1", self.port, 10.0):
            log = self.workdir / "error.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            self.stop()
            raise RuntimeError(f"nginx did not listen on {self.port}: {tail}")
        return self
