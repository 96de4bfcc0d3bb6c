import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_LOCALSTACK_IMAGE,
  localstackEnvironment,
  localstackImage,
} from '../../../localstack/container/localstack-container.ts';

describe('the LocalStack container settings', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('runs the pinned free image unless FANOUT_LOCALSTACK_IMAGE names another', () => {
    delete process.env.FANOUT_LOCALSTACK_IMAGE;
    expect(localstackImage()).toBe(DEFAULT_LOCALSTACK_IMAGE);
    process.env.FANOUT_LOCALSTACK_IMAGE = 'localstack/localstack-pro:2026.3';
    expect(localstackImage()).toBe('localstack/localstack-pro:2026.3');
  });

  it('passes LOCALSTACK_AUTH_TOKEN on to the container only when it is set', () => {
    delete process.env.LOCALSTACK_AUTH_TOKEN;
    expect(localstackEnvironment('us-east-1')).not.toHaveProperty('LOCALSTACK_AUTH_TOKEN');
    process.env.LOCALSTACK_AUTH_TOKEN = 'ls-token';
    expect(localstackEnvironment('eu-west-1')).toMatchObject({
      LOCALSTACK_AUTH_TOKEN: 'ls-token',
      AWS_DEFAULT_REGION: 'eu-west-1',
    });
  });
});
