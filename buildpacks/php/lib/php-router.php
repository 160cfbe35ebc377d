<?php
// Router script for PHP's built-in web server, copied into the app as
// .shipoff/php-router.php by the Shipoff PHP buildpack and started as
//   php -S 0.0.0.0:$PORT -t DOCROOT .shipoff/php-router.php
// For every request it decides:
//   - an existing file inside the docroot: PHP's server serves it as usual
//     (static files as they are, .php files run);
//   - a directory with an index.php or index.html: the same;
//   - anything else: the docroot's index.php, the front controller of
//     Laravel, Symfony, Slim and the like;
//   - never a file outside the docroot (also through symlinks), a dotfile
//     (.env, .git), and, when the docroot is the app root, never vendor/,
//     composer.json, composer.lock or auth.json: 404.

function shipoff_not_found(): bool
{
    http_response_code(404);
    header('Content-Type: text/html; charset=utf-8');
    echo "<!doctype html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n";
    return true;
}

/** The request path, decoded once as PHP's server decodes it, or null when it is not a plain path. */
function shipoff_request_path(string $uri): ?string
{
    $path = rawurldecode((string) parse_url('http://host' . $uri, PHP_URL_PATH));
    if ($path === '' || $path[0] !== '/' || strpbrk($path, "\\\0") !== false) return null;
    return $path;
}

/** No segment may start with a dot: no "..", no dotfiles. */
function shipoff_is_hidden(string $relative, bool $docrootIsAppRoot): bool
{
    foreach (explode('/', $relative) as $segment) {
        if ($segment !== '' && $segment[0] === '.') return true;
    }
    // Served from the app root, these would expose dependencies' scripts and
    // Composer's credentials.
    $first = explode('/', ltrim($relative, '/'))[0];
    return $docrootIsAppRoot && in_array($first, ['vendor', 'composer.json', 'composer.lock', 'auth.json'], true);
}

/** The real path of $path when it is inside $docroot, else null. */
function shipoff_inside(string $docroot, string $path): ?string
{
    $real = realpath($path);
    if ($real === false || ($real !== $docroot && !str_starts_with($real, $docroot . '/'))) return null;
    return $real;
}

/** false: PHP's server serves the file; true: answered here; a string: the front controller to run. */
function shipoff_route(): bool|string
{
    $docroot = realpath($_SERVER['DOCUMENT_ROOT']);
    $docrootIsAppRoot = $docroot === realpath(dirname(__DIR__));
    $path = shipoff_request_path($_SERVER['REQUEST_URI'] ?? '/');
    if ($path === null || shipoff_is_hidden($path, $docrootIsAppRoot)) return shipoff_not_found();

    $real = shipoff_inside($docroot, $docroot . $path);
    // The resolved file must pass the same checks (a symlink to vendor/ or .env).
    if ($real !== null && shipoff_is_hidden(substr($real, strlen($docroot)), $docrootIsAppRoot)) return shipoff_not_found();
    if ($real !== null && is_file($real)) return false;
    if ($real !== null && is_dir($real)) {
        foreach (['index.php', 'index.html'] as $index) {
            if (shipoff_inside($docroot, "$real/$index") !== null && is_file("$real/$index")) return false;
        }
    }

    $front = shipoff_inside($docroot, "$docroot/index.php");
    if ($front === null || !is_file($front)) return shipoff_not_found();
    // As a web server with a front controller sets them (try_files ... /index.php).
    $_SERVER['SCRIPT_FILENAME'] = $front;
    $_SERVER['SCRIPT_NAME'] = '/index.php';
    $_SERVER['PHP_SELF'] = '/index.php';
    chdir($docroot);
    return $front;
}

$shipoff_route = shipoff_route();
if (!is_string($shipoff_route)) return $shipoff_route;
// Required here, at the top level, so the app's top-level variables are
// globals, as they are when index.php is requested directly.
require $shipoff_route;
return true;
