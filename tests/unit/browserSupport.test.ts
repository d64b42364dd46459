// The advice without WebGPU names the browser the user has, from real user agent strings, and says
// what to do in it as WebGPU stands today.

import { describe, expect, it } from 'vitest';
import { adviceForThisBrowser, browserOf } from '../../src/client/browserSupport.ts';

const UA = {
  chromeWindows: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  oldChromeMac: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/110.0.0.0 Safari/537.36',
  chromeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0.0.0 Safari/537.36',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Mobile Safari/537.36',
  edgeLinux: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0',
  safari18: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Safari/605.1.15',
  safari26: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Safari/605.1.15',
  chromeIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1',
  firefoxWindows128: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0',
  firefoxWindows141: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:141.0) Gecko/20100101 Firefox/141.0',
  firefoxLinux: 'Mozilla/5.0 (X11; Linux x86_64; rv:141.0) Gecko/20100101 Firefox/141.0',
  opera: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0',
};

describe('browserOf', () => {
  it('tells Edge and iOS browsers from the Chrome and Safari they also name', () => {
    expect(browserOf(UA.edgeLinux)).toEqual({ browser: 'edge', version: 131, system: 'linux' });
    expect(browserOf(UA.chromeIphone)).toEqual({ browser: 'chrome', version: 131, system: 'ios' });
    expect(browserOf(UA.chromeAndroid)).toEqual({ browser: 'chrome', version: 118, system: 'android' });
    expect(browserOf(UA.safari26)).toEqual({ browser: 'safari', version: 26, system: 'macos' });
    expect(browserOf(UA.firefoxLinux)).toEqual({ browser: 'firefox', version: 141, system: 'linux' });
    expect(browserOf(UA.opera).browser).toBe('other');
  });
});

describe('adviceForThisBrowser', () => {
  const advice = (ua: string) => adviceForThisBrowser(browserOf(ua));
  it('asks for an update below the version that brought WebGPU', () => {
    expect(advice(UA.oldChromeMac)).toMatch(/Chrome 110: update it to version 113/);
    expect(advice(UA.chromeAndroid)).toMatch(/update it to version 121/);
    expect(advice(UA.safari18)).toMatch(/Safari 26 and newer has WebGPU/);
    expect(advice(UA.firefoxWindows128)).toMatch(/version 141 or newer, which has WebGPU on Windows/);
  });
  it('names the flag where WebGPU is not on by default', () => {
    expect(advice(UA.chromeLinux)).toMatch(/chrome:\/\/flags/);
    expect(advice(UA.edgeLinux)).toMatch(/edge:\/\/flags/);
    expect(advice(UA.firefoxLinux)).toMatch(/Firefox Nightly|dom\.webgpu\.enabled/);
    expect(advice(UA.chromeIphone)).toMatch(/iOS and iPadOS 26/);
  });
  it('sends a browser that has WebGPU to what else stops it, and says nothing of browsers it does not know', () => {
    for (const ua of [UA.chromeWindows, UA.safari26, UA.firefoxWindows141]) expect(advice(ua)).toMatch(/has WebGPU.*what stops it here is below/);
    expect(advice(UA.opera)).toBeNull();
  });
});
