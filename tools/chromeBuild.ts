// Chrome's own headless build, from the npm package @sparticuz/chromium (a devDependency): its
// brotli-packed binary, SwiftShader with a Vulkan loader, the libraries it needs beyond a bare
// Linux (Amazon Linux 2023's NSS) and its fonts, unpacked once with the package's own inflate
// (node's zlib and tar-fs) into .cache/, then launched by Playwright with Dawn's WebGPU. It works
// offline once npm has installed the package.

import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { inflate } from '@sparticuz/chromium';
import { REPO_ROOT, type ChromiumBuild } from '../lab/browser.ts';

const packageDir = dirname(dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')));
export const CHROME_BUILD_VERSION = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version: string }).version;
/** Where the build is unpacked: the binary, SwiftShader's Vulkan driver and its manifest
 *  (vk_swiftshader_icd.json), a Vulkan loader (libvulkan.so.1), al2023/lib and fonts. */
export const CHROME_BUILD_DIR = join(REPO_ROOT, '.cache', `chromium-${CHROME_BUILD_VERSION}`);
const ARCHIVES = ['chromium.br', 'swiftshader.tar.br', 'al2023.tar.br', 'fonts.tar.br'];

/** Unpacks the build (once per version) and says how to launch it: on SwiftShader when asked,
 *  otherwise on whatever adapter Dawn finds, a GPU where there is one (SwiftShader where not). */
export async function chromeBuild(options: { swiftshader: boolean }): Promise<ChromiumBuild> {
  const dir = CHROME_BUILD_DIR;
  if (!existsSync(dir)) {
    // inflate() unpacks into os.tmpdir(), which follows TMPDIR; a folder of its own, renamed into
    // place when whole, so that an interrupted unpack is never taken for a finished one.
    const unpacking = `${dir}.tmp-${process.pid}`;
    mkdirSync(unpacking, { recursive: true });
    const tmp = process.env.TMPDIR;
    process.env.TMPDIR = unpacking;
    try {
      for (const archive of ARCHIVES) await inflate(join(packageDir, 'bin', archive));
    } finally {
      if (tmp === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = tmp;
    }
    renameSync(unpacking, dir);
  }
  const libraries = [join(dir, 'al2023', 'lib'), dir, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return {
    executablePath: join(dir, 'chromium'),
    args: [
      '--headless=new',
      '--no-sandbox',
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--ignore-gpu-blocklist',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      ...(options.swiftshader ? ['--use-webgpu-adapter=swiftshader'] : []),
    ],
    env: { ...(process.env as Record<string, string>), LD_LIBRARY_PATH: libraries, FONTCONFIG_PATH: join(dir, 'fonts') },
  };
}
