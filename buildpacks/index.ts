// Public entry of the buildpacks part: build a pushed tree into a release
// image, and how a release image runs a Procfile command.
export { buildRelease, BUILD_UID, removeLeftoverBuilds, type BuildOptions, type BuildResult } from './build-release.js';
export { IMAGE_DEFAULT_COMMAND, launchArgv, oneOffArgv } from './launch.js';
export { BUILDPACKS, describeDetection, type Buildpack } from './registry.js';
export { parseProcfile, parseReleaseYaml, mergeProcessTypes } from './process-types.js';
export { stackImageRef, findRepoRoot } from './stack-image.js';
export { staticSiteHandler, type StaticSite } from './static-site.js';
