// Where WebGPU is on today, browser by browser, and which browser this page runs in, for the advice
// shown without WebGPU. Conservative: a browser is named as offering WebGPU only where it is on by
// default (Chrome/Edge 113 on Windows, macOS and ChromeOS; Chrome 121 on Android; Safari 26;
// Firefox 141 on Windows); elsewhere it is behind a flag or in a preview build.

export type BrowserName = 'chrome' | 'edge' | 'safari' | 'firefox' | 'other';
export type SystemName = 'windows' | 'macos' | 'chromeos' | 'android' | 'ios' | 'linux' | 'other';

export interface BrowserInfo {
  browser: BrowserName;
  /** The major version, or null where the user agent does not say. */
  version: number | null;
  system: SystemName;
}

const major = (ua: string, pattern: RegExp): number | null => {
  const found = pattern.exec(ua);
  return found ? Number(found[1]) : null;
};

/** The browser and system a user agent string names. Edge and every iOS browser say "Chrome" or
 *  "Safari" too, so they are asked first. */
export function browserOf(ua: string): BrowserInfo {
  const system: SystemName = /Android/.test(ua)
    ? 'android'
    : /iPhone|iPad|iPod/.test(ua)
      ? 'ios'
      : /CrOS/.test(ua)
        ? 'chromeos'
        : /Windows/.test(ua)
          ? 'windows'
          : /Mac OS X|Macintosh/.test(ua)
            ? 'macos'
            : /Linux/.test(ua)
              ? 'linux'
              : 'other';
  if (/Edg(A|iOS)?\//.test(ua)) return { browser: 'edge', version: major(ua, /Edg(?:A|iOS)?\/(\d+)/), system };
  if (/Firefox\/|FxiOS\//.test(ua)) return { browser: 'firefox', version: major(ua, /(?:Firefox|FxiOS)\/(\d+)/), system };
  if (/Chrome\/|CriOS\//.test(ua) && !/OPR\/|SamsungBrowser\//.test(ua)) return { browser: 'chrome', version: major(ua, /(?:Chrome|CriOS)\/(\d+)/), system };
  if (/Safari\//.test(ua) && /Version\//.test(ua)) return { browser: 'safari', version: major(ua, /Version\/(\d+)/), system };
  return { browser: 'other', version: null, system };
}

const LABEL: Record<Exclude<BrowserName, 'other'>, string> = { chrome: 'Chrome', edge: 'Edge', safari: 'Safari', firefox: 'Firefox' };

/** One sentence on what to do in the browser the user has now; null for a browser not named here. */
export function adviceForThisBrowser({ browser, version, system }: BrowserInfo): string | null {
  if (browser === 'other') return null;
  const name = LABEL[browser];
  const yours = `You are using ${name}${version !== null ? ` ${version}` : ''}`;
  // Every browser on iOS runs Safari's engine.
  if (system === 'ios') return `${yours} on an iPhone or iPad: WebGPU comes with iOS and iPadOS 26; update the system, then reload this page.`;
  if (browser === 'chrome' || browser === 'edge') {
    if (system === 'linux') return `${yours} on Linux, where WebGPU is not yet on for every computer: switch on "Unsafe WebGPU Support" in ${browser === 'edge' ? 'edge' : 'chrome'}://flags and restart the browser.`;
    const least = system === 'android' ? 121 : 113;
    if (version !== null && version < least) return `${yours}: update it to version ${least} or newer, which has WebGPU.`;
    return `${yours}, which has WebGPU: what stops it here is below.`;
  }
  if (browser === 'safari') {
    if (version !== null && version < 26) return `${yours}: Safari 26 and newer has WebGPU; update macOS, then reload this page.`;
    return `${yours}, which has WebGPU: what stops it here is below.`;
  }
  if (system === 'windows') {
    if (version !== null && version < 141) return `${yours}: update it to version 141 or newer, which has WebGPU on Windows.`;
    return `${yours}, which has WebGPU on Windows: what stops it here is below.`;
  }
  return `${yours}: on this system Firefox offers WebGPU only in Firefox Nightly or behind a setting (dom.webgpu.enabled in about:config). Chrome, Edge or Safari may have it on already.`;
}
