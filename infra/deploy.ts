/**
 * `npm run deploy`: runs `cdk deploy` (extra arguments are passed on) and, when it fails for want of AWS
 * credentials or of a bootstrapped environment, ends with one line saying what to do.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CREDENTIALS =
  /Unable to resolve AWS account|Could not load credentials|no credentials|credentials (have|has) expired|Need to perform AWS calls|ExpiredToken|InvalidClientTokenId|security token included in the request is (invalid|expired)|SignatureDoesNotMatch/i;
const BOOTSTRAP = /bootstrap/i;

/** The hint for a failed deploy's output, or undefined when the failure is about something else. */
export function deployHint(output: string): string | undefined {
  // Credentials first: without them the CDK cannot even look for the bootstrap stack, and its message may
  // mention bootstrapping too.
  if (CREDENTIALS.test(output))
    return 'fanout: no usable AWS credentials: configure them (`aws configure` or `aws sso login`, or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) or pick a profile with AWS_PROFILE=<name>, set a region (AWS_REGION), then `npm run deploy` again.';
  if (BOOTSTRAP.test(output))
    return 'fanout: the account/region is not bootstrapped for the CDK: run `npx cdk bootstrap` once (same credentials and region), then `npm run deploy` again.';
  return undefined;
}

/** Runs `cdk deploy --no-notices …args`, passing its output through, and resolves to its exit code. */
export function deploy(args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn('npx', ['cdk', 'deploy', '--no-notices', ...args], {
      stdio: ['inherit', 'pipe', 'pipe'],
    });
    let output = '';
    const tee = (target: NodeJS.WriteStream) => (chunk: Buffer) => {
      target.write(chunk);
      output = (output + chunk.toString('utf8')).slice(-64 * 1024);
    };
    child.stdout.on('data', tee(process.stdout));
    child.stderr.on('data', tee(process.stderr));
    child.on('error', (error) => {
      console.error(
        `fanout: could not run the CDK CLI (${error.message}); run \`npm ci\` in the project first.`,
      );
      resolve(1);
    });
    child.on('close', (code) => {
      const status = code ?? 1;
      const hint = status === 0 ? undefined : deployHint(output);
      if (hint) console.error(hint);
      resolve(status);
    });
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  process.exitCode = await deploy(process.argv.slice(2));
