import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** PEM files for a server (and a client) signed by a throwaway CA, made with openssl at test time. */
export interface TlsMaterial {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  readonly cert: string;
  readonly key: string;
  remove(): void;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

function signed(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, "req", "-new", ...EC_KEY, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject);
  writeFileSync(join(dir, `${name}.ext`), `${extensions}\n`);
  openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "1",
    "-out",
    `${name}.crt`,
    "-extfile",
    `${name}.ext`,
  );
}

/** A CA, a server certificate for `ip` (also valid as a client: etcd peers and its own gateway dial with it), and a client certificate. */
export function makeTlsMaterial(ip: string, commonName: string, dnsNames: string[] = []): TlsMaterial {
  const dir = mkdtempSync(join(tmpdir(), "portwarden-tls-"));
  openssl(
    dir,
    "req",
    "-x509",
    ...EC_KEY,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "1",
    "-subj",
    "/CN=portwarden-test-ca",
  );
  const sans = [`IP:${ip}`, ...dnsNames.map((name) => `DNS:${name}`)].join(",");
  signed(
    dir,
    "server",
    `/CN=${commonName}`,
    `subjectAltName=${sans}\nextendedKeyUsage=serverAuth,clientAuth`,
  );
  signed(dir, "client", "/CN=portwarden-test-client", "extendedKeyUsage=clientAuth");
  return {
    dir,
    caFile: join(dir, "ca.crt"),
    certFile: join(dir, "server.crt"),
    keyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.crt"),
    clientKeyFile: join(dir, "client.key"),
    cert: readFileSync(join(dir, "server.crt"), "utf8"),
    key: readFileSync(join(dir, "server.key"), "utf8"),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** A self-signed server certificate, as kubelets make for themselves. */
export function makeSelfSigned(commonName: string, ip: string): { cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), "portwarden-selfsigned-"));
  try {
    openssl(
      dir,
      "req",
      "-x509",
      ...EC_KEY,
      "-keyout",
      "k.pem",
      "-out",
      "c.pem",
      "-days",
      "1",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      `subjectAltName=IP:${ip},DNS:${commonName}`,
    );
    return { cert: readFileSync(join(dir, "c.pem"), "utf8"), key: readFileSync(join(dir, "k.pem"), "utf8") };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
