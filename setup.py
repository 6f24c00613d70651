"""Packaging for aidevbot. Every setting lives in settings.ini (nbdev 2 layout); edit there, not here."""
from configparser import ConfigParser
import shlex
import setuptools

config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

requirements = shlex.split(cfg.get('requirements', ''))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
statuses = ['1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable']
lib = cfg['lib_path']

setuptools.setup(
    name=cfg['lib_name'],
    version=cfg['version'],
    description=cfg['description'],
    keywords=cfg['keywords'],
    author=cfg['author'],
    author_email=cfg['author_email'],
    license='Apache Software License 2.0',
    url=cfg['git_url'],
    classifiers=[
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
        'Programming Language :: Python :: 3.11',
    ],
    # the hand-reviewed Alembic migrations ship inside the package as aidevbot.migrations, and the demo project's files
    # (real files, outside the nbdev-managed aidevbot/ so nbdev adds no __init__.py to them) as aidevbot.testing.demo_project
    packages=setuptools.find_packages(include=[lib, f'{lib}.*']) + [f'{lib}.migrations', f'{lib}.migrations.versions',
                                                                    f'{lib}.testing.demo_project'],
    package_dir={f'{lib}.migrations': 'migrations', f'{lib}.migrations.versions': 'migrations/versions',
                 f'{lib}.testing.demo_project': 'demo_project'},
    # data read with importlib.resources: prompts (aidevbot/prompts/*.md), message catalogs (gettext .po, read by
    # aidevbot.render), Alembic's templates, the bench specs (their .py files ship as never-imported subpackages)
    package_data={lib: ['prompts/*.md', 'locales/*.pot', 'locales/*/LC_MESSAGES/*.po'], f'{lib}.migrations': ['*.mako', '*.ini'],
                  f'{lib}.bench.specs': ['*/request.md', '*/spec.json'],
                  f'{lib}.testing.demo_project': ['small/*', 'small/tests/*', 'change/*', 'change/tests/*']},
    include_package_data=True,
    install_requires=requirements,
    extras_require={'dev': dev_requirements},
    python_requires='>=' + cfg['min_python'],
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    zip_safe=False,
    entry_points={
        'console_scripts': cfg.get('console_scripts', '').split(),
        'nbdev': [f'{lib}={lib}._modidx:d'],
    },
)
